"""What the simulated plant's edge configuration says of each tag: its kind and role, as a
commissioning engineer writes them next to the register addresses (``kind``/``role`` in the
edge config; see ``configs/demo-plant.toml``). Offline evaluation publishes it as the
plant's ``TagsConfigured``, under the plant's own tag names.

Kinds given here are those an engineer knows from the device documentation: bits are
discrete, alarm words, alarm bits and fault codes are alarms, totalisers are counters, and a
gas holder's fill is an integrator. Everything else is left for detection to learn.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from uuid import UUID

from simulator.config import NamingConfig
from streams.events import TagKind, TagsConfigured, TagSpec

_A, _I, _C, _D, _L = (TagKind.ANALOG, TagKind.INTEGRATOR, TagKind.COUNTER, TagKind.DISCRETE,
                      TagKind.ALARM)

_CHP = {"p_el": (None, "chp.power"), "p_th": (None, "chp.heat"), "hours": (_C, "chp.hours"),
        "energy_el": (_C, "chp.energy"), "gas_flow": (None, "chp.gas"),
        "state": (_D, "chp.state"), "fault_code": (_L, "chp.fault_code"),
        "load_setpoint": (None, "chp.load_setpoint"),
        "exhaust_temp": (None, "chp.exhaust_temp"), "coolant_temp": (None, "chp.coolant_temp"),
        "run": (_D, "chp.run")}

#: canonical tag -> (kind or None to learn it, role)
CATALOGUE: Mapping[str, tuple[TagKind | None, str]] = MappingProxyType({
    "plc.heartbeat": (_C, "plc.heartbeat"),
    "plc.alarm_word": (_L, "plc.alarm_word"),
    "dig1.temp": (None, "digester.temperature"),
    "dig1.temp_top": (None, "digester.temperature"),
    "dig1.temp_bottom": (None, "digester.temperature"),
    "dig1.ph": (None, "digester.ph"),
    "dig1.level": (None, "digester.level"),
    "dig1.fos": (None, "digester.fos"),
    "dig1.tac": (None, "digester.tac"),
    "dig1.fos_tac": (None, "digester.fos_tac"),
    "dig1.vfa": (None, "digester.vfa"),
    "gas.pressure": (None, "gas.pressure"),
    "gas.holder_fill": (_I, "gas.holder_fill"),
    "gas.flow_chp": (None, "gas.to_chp"),
    "gas.flow_flare": (None, "gas.to_flare"),
    "gas.flow_total": (None, "gas.production"),
    "gas.ch4": (None, "gas.ch4"),
    "gas.co2": (None, "gas.co2"),
    "gas.o2": (None, "gas.o2"),
    "gas.h2s": (None, "gas.h2s"),
    "gas.h2": (None, "gas.h2"),
    "gas.blower_run": (_D, "gas.blower_run"),
    "gas.overpressure_valve": (_D, "gas.relief_valve"),
    "agit1.current": (None, "agitator.current"),
    "agit1.speed": (None, "agitator.speed"),
    "agit1.run": (_D, "agitator.run"),
    "pump.feed.current": (None, "pump.current"),
    "pump.feed.run": (_D, "pump.run"),
    "feed.solid_today": (_C, "feed.solid_today"),
    "feed.solid_total": (_C, "feed.solid_total"),
    "feed.portion": (None, "feed.portion"),
    "feed.feeder_weight": (None, "feed.feeder_weight"),
    "feed.liquid_m3": (_C, "feed.liquid_today"),
    "heat.supply_temp": (None, "heating.supply_temp"),
    "heat.return_temp": (None, "heating.return_temp"),
    "heat.q_kw": (None, "heating.power"),
    "air.dosing_flow": (None, "air.dosing_flow"),
    "air.dosing_on": (_D, "air.dosing_run"),
    "flare.on": (_D, "flare.run"),
    "safety.gas_alarm": (_L, "safety.gas_alarm"),
    "safety.ch4_lel": (None, "safety.ch4_lel"),
    "ana.status": (_D, "analyser.status"),
    "ana.sample_point": (_D, "analyser.sample_point"),
    **{f"{unit}.{field}": spec for unit in ("chp", "chp2") for field, spec in _CHP.items()},
})


def plant_catalogue(plant_id: str, naming: NamingConfig, tags: list[str], boot: UUID,
                    at: datetime) -> TagsConfigured:
    """The ``TagsConfigured`` an edge producer of this plant publishes: every tag it has
    (``tags``: canonical ids) under its own name, with kind and role."""
    specs = []
    for tag in tags:
        name = naming.name(tag)
        if name is None:
            continue
        kind, role = CATALOGUE.get(tag, (None, None))
        specs.append(TagSpec(tag=name, device="plant", poll_group="all", poll_interval_s=60.0,
                             kind=kind, role=role))
    return TagsConfigured(plant_id=plant_id, edge_boot_id=boot, seq=0, configured_at=at,
                          config_sha256="0" * 64, tags=tuple(specs))
