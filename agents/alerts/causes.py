"""The probable cause of an incident, from its findings (tags, roles, checks, values): the
first cause below whose evidence is present, with a title in an operator's words.

*Primary* causes name a fault of the process or its equipment (DOMAIN.md 4.1) and open an
incident of their own. A PLC alarm word (``tier = "alarm"``), whose bits the catalogue does
not name, opens one too, which a primary cause found later takes over. *Secondary* causes
(the gas holder or flare reacting, one sensor misbehaving, anything else) join the incident
open around them, or open one that a primary cause may take over.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from streams.events import Finding, Severity


@dataclass(frozen=True)
class Cause:
    key: str
    title: str
    severity: Severity
    #: "primary", "alarm" or "secondary" (see the module docstring)
    tier: str = "secondary"


def _has(findings: Sequence[Finding], roles: set[str],
         checks: set[str] | None = None) -> Finding | None:
    for f in findings:
        if f.role in roles and (checks is None or f.check in checks):
            return f
    return None


def _tagged(findings: Sequence[Finding], tag: str) -> Finding | None:
    return next((f for f in findings if f.tag == tag), None)


def _high(f: Finding) -> bool:
    return f.value is not None and f.normal_high is not None and f.value > f.normal_high


def _low(f: Finding) -> bool:
    return f.value is not None and f.normal_low is not None and f.value < f.normal_low


def _num(x: float | None) -> str:
    return "?" if x is None or not math.isfinite(x) else f"{x:g}"


def _gas_alarm(fs: Sequence[Finding]) -> Cause | None:
    f = _has(fs, {"safety.gas_alarm"}) or next(
        (f for f in fs if f.role == "safety.ch4_lel" and (_high(f) or "state" in f.check)),
        None)
    if f is None:
        return None
    return Cause("gas_leak", "Gas alarm: methane detected in the air at the plant "
                 "(leak at the digester, holder or pipes?)", Severity.CRITICAL, "primary")


def _chp_trip(fs: Sequence[Finding]) -> Cause | None:
    f = _has(fs, {"chp.fault_code"})
    if f is not None and f.value not in (None, 0.0):
        return Cause("chp_trip", f"CHP tripped (fault code {_num(f.value)}): {f.tag}",
                     Severity.CRITICAL, "primary")
    f = _has(fs, {"chp.state"}, {"baseline.state"})
    if f is not None:
        return Cause("chp_trip", f"CHP in a state never seen ({f.tag} = {_num(f.value)})",
                     Severity.CRITICAL, "primary")
    return None


def _heating(fs: Sequence[Finding]) -> Cause | None:
    f = next((f for f in fs if f.check == "process.circulation"), None)
    if f is not None:
        return Cause("heating_failure", "Heating failure: " + f.text, Severity.CRITICAL, "primary")
    f = _has(fs, {"heating.supply_temp", "heating.return_temp", "heating.power"})
    if f is not None and _low(f):
        return Cause("heating_failure", "Heating fault: " + f.text, Severity.WARNING, "primary")
    return None


def _agitator(fs: Sequence[Finding]) -> Cause | None:
    f = _tagged(fs, "derived:agitator.load") or _has(fs, {"agitator.current"})
    if f is None:
        return None
    if _low(f) or (f.value == 0.0):
        return Cause("agitator_failure", "Agitator failure: no current while it should run "
                     f"({f.tag})", Severity.WARNING, "primary")
    if _high(f):
        return Cause("agitator_overload", "Agitator overloaded: " + f.text,
                     Severity.WARNING, "primary")
    return None


#: an air flow at most this share of its normal low has stopped; a flow that is merely low
#: follows the gas it is dosed into (the controller's ratio), which is no failure of its own
AIR_STOPPED_SHARE = 0.1


def _air_dosing(fs: Sequence[Finding]) -> Cause | None:
    f = _has(fs, {"air.dosing_run"})
    if f is None or not (f.value == 0.0 or "state" in f.check):
        f = _has(fs, {"air.dosing_flow"})
        if f is None or f.value is None or f.normal_low is None \
                or f.value > AIR_STOPPED_SHARE * f.normal_low:
            return None
    return Cause("air_dosing_failure", "Air dosing for desulphurisation stopped: " + f.text,
                 Severity.WARNING, "primary")


def _h2s(fs: Sequence[Finding]) -> Cause | None:
    f = _has(fs, {"gas.h2s"})
    if f is None or not _high(f):
        return None
    return Cause("h2s_high", "Hydrogen sulphide high: " + f.text, Severity.WARNING, "primary")


def _foaming(fs: Sequence[Finding]) -> Cause | None:
    level = _has(fs, {"digester.level"})
    if level is None:
        return None
    other = _has(fs, {"gas.pressure", "gas.to_chp"})
    if other is None and "spread" not in level.check and not _high(level):
        return None
    return Cause("foaming", "Foaming suspected: digester level " +
                 ("and gas pressure or flow unsteady" if other else "jumped up"),
                 Severity.WARNING, "primary")


def _acidification(fs: Sequence[Finding]) -> Cause | None:
    f = next((f for f in fs if f.role in ("digester.fos_tac", "digester.fos", "digester.vfa")
              and _high(f)), None)
    if f is not None:
        return Cause("acidification", "Acidification risk: " + f.text, Severity.WARNING, "primary")
    ch4 = _has(fs, {"gas.ch4"})
    co2 = _has(fs, {"gas.co2"})
    if ch4 is not None and _low(ch4) and (co2 is None or _high(co2)):
        return Cause("acidification", "Acidification risk: methane share falling ("
                     + ch4.text + ")", Severity.WARNING, "primary")
    return None


def _feeding(fs: Sequence[Finding]) -> Cause | None:
    f = next((f for f in fs if (f.role or "").startswith("feed.")), None)
    if f is None:
        return None
    return Cause("feeding", "Feeding differs from normal: " + f.text, Severity.WARNING, "primary")


def _leak(fs: Sequence[Finding]) -> Cause | None:
    f = next((f for f in fs if f.check == "process.gas_balance"), None)
    if f is None:
        return None
    return Cause("gas_leak", "Gas leak suspected: " + f.text, Severity.CRITICAL, "primary")


def _holder(fs: Sequence[Finding]) -> Cause | None:
    f = _has(fs, {"gas.holder_fill", "gas.to_flare", "flare.run", "gas.pressure"})
    if f is None:
        return None
    return Cause("gas_storage", "Gas storage: " + f.text, Severity.WARNING)


def _alarm_word(fs: Sequence[Finding]) -> Cause | None:
    f = next((f for f in fs if f.role == "plc.alarm_word" or f.check == "baseline.alarm"),
             None)
    if f is None:
        return None
    return Cause("plc_alarm", "PLC alarm: " + f.text, Severity.WARNING, "alarm")


def _temperature(fs: Sequence[Finding]) -> Cause | None:
    f = _has(fs, {"digester.temperature"})
    if f is None or not (_low(f) or _high(f)) or "value" in f.check:
        return None
    return Cause("digester_temperature", "Digester temperature off its normal band: " + f.text,
                 Severity.WARNING)


#: checks that point at the measurement rather than the process
_SENSOR_CHECKS = {"baseline.stuck", "baseline.missing", "baseline.spread_10m", "baseline.value",
                  "rule.stuck", "rule.quality", "rule.range"}


def _sensor(fs: Sequence[Finding]) -> Cause | None:
    tags = {f.tag for f in fs}
    if len(tags) != 1 or fs[0].check not in _SENSOR_CHECKS:
        return None
    f = fs[0]
    return Cause("sensor", f"Sensor or signal {f.tag}: " + f.text.split(": ", 1)[-1],
                 Severity.WARNING)


RULES: tuple[Callable[[Sequence[Finding]], Cause | None], ...] = (
    _gas_alarm, _chp_trip, _heating, _agitator, _air_dosing, _h2s, _foaming, _acidification,
    _feeding, _leak, _holder, _alarm_word, _temperature, _sensor)


def cause_of(findings: Sequence[Finding], tags: Sequence[str]) -> Cause:
    """The first cause whose evidence is in ``findings`` (an anomaly without findings, from
    an older worker, names its tags)."""
    for rule in RULES:
        found = rule(findings)
        if found is not None:
            return found
    what = findings[0].text if findings else f"unusual readings of {', '.join(tags[:3])}"
    return Cause("anomaly", what, Severity.WARNING)
