"""Fault kinds and how each acts on the simulated plant.

Three families:

* process faults change the plant itself through :class:`~simulator.plant.Disturbances`;
* sensor faults change one tag's engineering value before it is encoded;
* link faults act on a whole Modbus unit: word/byte order, exception codes, unanswered requests.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Literal

from simulator.noise import Noise
from simulator.plant import Disturbances

ProcessKind = Literal["overload", "foaming", "h2s_spike", "air_dosing_failure",
                      "heating_failure", "agitator_failure", "gas_leak", "chp_trip"]
SensorKind = Literal["stuck", "drift", "offset", "spikes", "dropout", "wrong_scaling"]
LinkKind = Literal["word_swap", "byte_swap", "exception", "timeout", "silent", "frozen",
                   "address_shift"]
FaultKind = Literal[ProcessKind, SensorKind, LinkKind]
Device = Literal["plc", "analyser", "chp"]

PROCESS_KINDS: frozenset[str] = frozenset(ProcessKind.__args__)  # type: ignore[attr-defined]
SENSOR_KINDS: frozenset[str] = frozenset(SensorKind.__args__)  # type: ignore[attr-defined]
LINK_KINDS: frozenset[str] = frozenset(LinkKind.__args__)  # type: ignore[attr-defined]

#: Default magnitude per kind when the scenario gives none (all assumptions).
DEFAULT_MAGNITUDE: dict[str, float] = {
    "overload": 2.0,  # feed multiplier
    "foaming": 0.5,  # foam height, m
    "h2s_spike": 8.0,  # raw H2S multiplier
    "gas_leak": 20.0,  # Nm³/h
    "drift": 0.05,  # engineering units per hour
    "offset": 1.0,
    "spikes": 0.3,  # relative spike height
    "wrong_scaling": 10.0,
    "exception": 4.0,  # Modbus exception code
    "timeout": 0.5,  # share of requests left unanswered
    "address_shift": 1.0,  # registers moved by +1 (or -1)
}


_CHP = ("{u}.state", "{u}.fault_code", "{u}.p_el", "{u}.p_th", "{u}.gas_flow", "{u}.run")
#: Process fault kind -> (the tags it acts on, the tags a plant engineer expects to move).
#: Canonical tag ids; ``{u}`` is the CHP unit (``chp`` or ``chp2``).
PROCESS_TAGS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "overload": (("feed.portion", "feed.solid_today", "feed.solid_total", "feed.feeder_weight"),
                 ("dig1.fos", "dig1.fos_tac", "dig1.vfa", "dig1.ph", "gas.ch4", "gas.co2",
                  "gas.h2", "gas.flow_total")),
    "foaming": (("dig1.level", "gas.pressure", "gas.flow_chp"), ("plc.alarm_word",)),
    "h2s_spike": (("gas.h2s",), ()),
    "air_dosing_failure": (("air.dosing_flow", "air.dosing_on"), ("gas.o2", "gas.h2s")),
    "heating_failure": (("heat.supply_temp", "heat.return_temp", "heat.q_kw",
                         "plc.alarm_word"),
                        ("dig1.temp", "dig1.temp_top", "dig1.temp_bottom")),
    "agitator_failure": (("agit1.current", "agit1.speed", "plc.alarm_word"),
                         ("dig1.temp_top", "dig1.temp_bottom")),
    "gas_leak": (("safety.ch4_lel", "safety.gas_alarm", "plc.alarm_word"),
                 ("gas.holder_fill",)),
    "chp_trip": (_CHP, ("{u}.exhaust_temp", "{u}.coolant_temp", "gas.flow_chp",
                        "gas.holder_fill", "gas.flow_flare", "flare.on", "chp.run")),
}


def fault_tags(kind: str, target: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The canonical tags a fault acts on, and those expected to move with it."""
    if kind in SENSOR_KINDS:
        return ((target,) if target else ()), ()
    acts, moves = PROCESS_TAGS.get(kind, ((), ()))
    unit = "chp2" if target == "chp2" else "chp"
    return (tuple(t.format(u=unit) for t in acts),
            tuple(dict.fromkeys(t.format(u=unit) for t in moves if t.format(u=unit) not in
                                {a.format(u=unit) for a in acts})))


@dataclass
class ActiveFault:
    """One scheduled fault at run time. Times are simulated seconds since the run start."""

    kind: str
    start_s: float
    end_s: float
    target: str | None = None
    device: str | None = None
    magnitude: float = 0.0
    ramp_h: float = 0.0
    inhibition: float = 1.0
    probability: float = 0.05
    held: dict[str, float] = field(default_factory=dict)
    labelled: bool = False

    def active(self, t_s: float) -> bool:
        return self.start_s <= t_s < self.end_s

    def ramp(self, t_s: float) -> float:
        if self.ramp_h <= 0.0:
            return 1.0
        return min(max((t_s - self.start_s) / (self.ramp_h * 3600.0), 0.0), 1.0)


def apply_process(dist: Disturbances, faults: Iterable[ActiveFault], t_s: float) -> None:
    """Reset ``dist`` to a healthy plant, then apply every active process fault."""
    fresh = Disturbances()
    for name in fresh.__dataclass_fields__:
        setattr(dist, name, getattr(fresh, name))
    for f in faults:
        if f.kind not in PROCESS_KINDS or not f.active(t_s):
            continue
        r = f.ramp(t_s)
        if f.kind == "overload":
            dist.feed_factor = 1.0 + (f.magnitude - 1.0) * r
            dist.mu2_factor *= math.exp(math.log(max(f.inhibition, 1e-6)) * r)
        elif f.kind == "foaming":
            dist.foam_m = max(dist.foam_m, f.magnitude * r)
        elif f.kind == "h2s_spike":
            dist.h2s_factor *= 1.0 + (f.magnitude - 1.0) * r
        elif f.kind == "air_dosing_failure":
            dist.air_dosing_failed = True
        elif f.kind == "heating_failure":
            dist.heating_failed = True
        elif f.kind == "agitator_failure":
            dist.agitator_tripped = True
        elif f.kind == "gas_leak":
            dist.leak_nm3_h += f.magnitude * r
        elif f.kind == "chp_trip":
            if f.target == "chp2":
                dist.chp2_tripped = True
            else:
                dist.chp_tripped = True


def apply_sensor(values: MutableMapping[str, float], faults: Iterable[ActiveFault],
                 t_s: float, noise: Noise) -> None:
    """Change the engineering values of faulty sensors in place (NaN = no valid value)."""
    for f in faults:
        tag = f.target
        if f.kind not in SENSOR_KINDS or tag is None or tag not in values:
            continue
        if not f.active(t_s):
            f.held.clear()
            continue
        v = values[tag]
        if f.kind == "stuck":
            values[tag] = f.held.setdefault(tag, v)
        elif f.kind == "drift":
            values[tag] = v + f.magnitude * (t_s - f.start_s) / 3600.0
        elif f.kind == "offset":
            values[tag] = v + f.magnitude
        elif f.kind == "spikes":
            if noise.uniform() < f.probability:
                values[tag] = v + f.magnitude * (abs(v) + 1.0) * (1 if noise.uniform() < .5 else -1)
        elif f.kind == "dropout":
            values[tag] = math.nan
        elif f.kind == "wrong_scaling":
            values[tag] = v * f.magnitude


@dataclass(frozen=True)
class LinkState:
    """What the Modbus layer must do for one unit right now."""

    word_swap: bool = False
    byte_swap: bool = False
    exception_code: int = 0
    no_reply_share: float = 0.0
    frozen: bool = False  # registers stop updating (stale device)
    address_shift: int = 0  # values appear at address + shift


def link_state(device: str, faults: Iterable[ActiveFault], t_s: float) -> LinkState:
    """Combine the active link faults of ``device``."""
    ws = bs = frozen = False
    code = shift = 0
    share = 0.0
    for f in faults:
        if f.kind not in LINK_KINDS or f.device != device or not f.active(t_s):
            continue
        if f.kind == "word_swap":
            ws = True
        elif f.kind == "byte_swap":
            bs = True
        elif f.kind == "exception":
            code = int(f.magnitude)
        elif f.kind == "timeout":
            share = max(share, f.magnitude)
        elif f.kind == "silent":
            share = 1.0
        elif f.kind == "frozen":
            frozen = True
        elif f.kind == "address_shift":
            shift = 1 if f.magnitude >= 0 else -1
    return LinkState(ws, bs, code, share, frozen, shift)
