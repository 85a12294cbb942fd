"""Synthetic biogas plant: AM2 process model, auxiliary equipment, faults and a Modbus server."""
