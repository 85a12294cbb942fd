"""The role vocabulary of ``TagSpec.role``: what a tag measures on the plant, whatever the
plant calls it. Edge configurations give roles (``role = "heating.supply_temp"``); detection
uses them for the process checks and to say what an incident means in an operator's words.
A role names a quantity, not a place: two digesters' temperatures both have
``digester.temperature``. Roles not listed here are allowed and carried, but nothing
downstream knows what they mean.
"""

from __future__ import annotations

from types import MappingProxyType

#: role -> what it measures (the words explanations use)
ROLES = MappingProxyType({
    "digester.temperature": "digester temperature",
    "digester.ph": "digester pH",
    "digester.level": "digester level",
    "digester.fos": "FOS (volatile acids)",
    "digester.tac": "TAC (buffer capacity)",
    "digester.fos_tac": "FOS/TAC ratio",
    "digester.vfa": "volatile fatty acids",
    "gas.production": "biogas production",
    "gas.to_chp": "gas flow to the CHP",
    "gas.to_flare": "gas flow to the flare",
    "gas.holder_fill": "gas holder fill",
    "gas.pressure": "gas pressure",
    "gas.ch4": "methane share",
    "gas.co2": "CO2 share",
    "gas.o2": "oxygen in the gas",
    "gas.h2s": "hydrogen sulphide",
    "gas.h2": "hydrogen",
    "gas.blower_run": "support-air blower running",
    "gas.relief_valve": "over-pressure valve open",
    "heating.supply_temp": "heating supply temperature",
    "heating.return_temp": "heating return temperature",
    "heating.power": "heating power",
    "agitator.current": "agitator current",
    "agitator.speed": "agitator speed",
    "agitator.run": "agitator run command",
    "pump.current": "pump current",
    "pump.run": "pump running",
    "feed.portion": "feed portion",
    "feed.solid_today": "solids fed today",
    "feed.solid_total": "solids fed in total",
    "feed.feeder_weight": "feeder weight",
    "feed.liquid_today": "liquid feed today",
    "air.dosing_flow": "air dosing flow",
    "air.dosing_run": "air dosing running",
    "flare.run": "flare burning",
    "chp.power": "CHP electrical power",
    "chp.heat": "CHP heat output",
    "chp.gas": "CHP gas flow",
    "chp.state": "CHP state",
    "chp.fault_code": "CHP fault code",
    "chp.run": "CHP running",
    "chp.hours": "CHP operating hours",
    "chp.energy": "CHP energy counter",
    "chp.load_setpoint": "CHP load setpoint",
    "chp.exhaust_temp": "CHP exhaust temperature",
    "chp.coolant_temp": "CHP coolant temperature",
    "plc.alarm_word": "PLC alarm word",
    "plc.heartbeat": "PLC heartbeat",
    "safety.gas_alarm": "gas detector alarm",
    "safety.ch4_lel": "methane in air (% LEL)",
    "analyser.status": "gas analyser status",
    "analyser.sample_point": "gas analyser sample point",
})


def describe(role: str | None, tag: str) -> str:
    """Words for a tag: its role's description, else the tag's own name."""
    return ROLES.get(role or "", tag)
