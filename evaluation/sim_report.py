"""Summaries of scored simulator runs: per split and plant, for the detector path and for each
baseline fitted on the same rows (the figures ``biogas eval sim`` prints and the tests hold)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import median

from evaluation.sim_scoring import SimRun

#: Faults an operator must hear of within minutes (the issue's "acute" list).
ACUTE = frozenset({"chp_trip", "heating_failure", "gas_leak", "agitator_failure",
                   "air_dosing_failure"})


@dataclass(frozen=True)
class Summary:
    """Detection and false alarms of some runs (one plant, one split, or everything)."""

    runs: int
    days: float
    quiet_days: float
    process: tuple[int, int]  # detected, total
    sensor: tuple[int, int]
    acute_delay_min: float | None  # median
    other_delay_min: float | None
    openings: int
    incidents: int
    alarm_h: float
    #: time in alarm and outside faults, process faults lasting until the plant was back
    alarm_recovered_h: float
    quiet_recovered_days: float
    lenient_false_alerts: int
    acid_leads_h: tuple[float | None, ...]

    @property
    def openings_per_day(self) -> float:
        return self.openings / self.days if self.days else 0.0

    @property
    def incidents_per_day(self) -> float:
        return self.incidents / self.days if self.days else 0.0

    @property
    def alarm_h_per_day(self) -> float:
        return self.alarm_h / self.days if self.days else 0.0

    @property
    def alarm_share(self) -> float:
        """Share of the time outside faults with an alert open."""
        return self.alarm_h / (24.0 * self.quiet_days) if self.quiet_days else 0.0

    @property
    def alarm_share_recovered(self) -> float:
        """:attr:`alarm_share` with each process fault lasting until the plant's true state
        was back (not 24 h)."""
        return (self.alarm_recovered_h / (24.0 * self.quiet_recovered_days)
                if self.quiet_recovered_days else 0.0)

    def rate(self, family: str) -> float:
        found, total = self.process if family == "process" else self.sensor
        return found / total if total else 1.0


def summarise(runs: Iterable[SimRun]) -> Summary:
    runs = list(runs)
    faults = [f for r in runs for f in r.faults]

    def count(family: str) -> tuple[int, int]:
        mine = [f for f in faults if f.family == family]
        return sum(f.delay_s is not None for f in mine), len(mine)

    def med(values: Sequence[float]) -> float | None:
        return median(values) / 60.0 if values else None

    acute = [f.delay_s for f in faults if f.kind in ACUTE and f.delay_s is not None]
    other = [f.delay_s for f in faults if f.kind not in ACUTE and f.delay_s is not None]
    return Summary(
        runs=len(runs), days=sum(r.days for r in runs),
        quiet_days=sum(r.quiet_days for r in runs), process=count("process"),
        sensor=count("sensor"), acute_delay_min=med(acute), other_delay_min=med(other),
        openings=sum(r.openings for r in runs), incidents=sum(r.incidents for r in runs),
        alarm_h=sum(r.alarm_s for r in runs) / 3600.0,
        alarm_recovered_h=sum(r.alarm_recovered_s for r in runs) / 3600.0,
        quiet_recovered_days=sum(r.quiet_recovered_s for r in runs) / 86400.0,
        lenient_false_alerts=sum(r.lenient_false_alerts for r in runs),
        acid_leads_h=tuple(a.lead_h for r in runs for a in r.acid))


def by_plant(runs: Iterable[SimRun]) -> dict[tuple[str, str], Summary]:
    """Summaries per (split, plant), in the order first seen."""
    groups: dict[tuple[str, str], list[SimRun]] = {}
    for r in runs:
        groups.setdefault((r.split, r.plant), []).append(r)
    return {key: summarise(group) for key, group in groups.items()}
