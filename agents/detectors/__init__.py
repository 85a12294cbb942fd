"""Detectors behind one protocol, adaptive thresholds and the ensemble vote."""
