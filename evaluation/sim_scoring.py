"""Honest scoring of a simulator run against its fault labels.

* Flags become **alert episodes** per tag exactly as the alert agent makes them: an episode
  opens at a tag's first flag, lasts until ``clear_after_s`` passed without a flag of that tag,
  and flags within ``holdoff_s`` after a clear are suppressed (they neither open nor extend).
* A fault is **detected** only by an episode that *opens* between its start and its end plus
  ``detect_grace_s``, on a tag the fault acts on or one a plant engineer expects to move with
  it (the label's ``acts_on`` and ``moves``, in the plant's own tag names). An episode standing
  since before the fault started does not count; the delay is from the fault's start to that
  opening.
* **False alarms** are counted outside every fault's window ``[start, end + recovery]``
  (``recovery_s`` by family: a process needs time to settle after its fault ends): episode
  openings (alerts) and incident openings per plant-day, and the time the plant stood in alarm
  (any episode open, or any incident open) as hours per plant-day and as a share of that time.
  Beside it, the time in alarm with each process fault's window ending instead when the
  plant's true state is back (:mod:`evaluation.sim_recovery`, from the simulator, the same
  for every detector; ``alarm_recovered_s``): shorter where the plant settles within a day,
  longer where it takes days (a large digester warming up again after its heating failed).
* The lenient figures of earlier versions (any flag of any tag inside a fault's window counts
  as detecting it; a false alert is an opening outside the windows) are kept beside them,
  labelled as such, so old and new numbers can be compared.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

CLEAR_AFTER_S = 300.0  # BIOGAS_AGENTS_ALERT_CLEAR_AFTER_S default
HOLDOFF_S = 600.0  # BIOGAS_AGENTS_ALERT_HOLDOFF_S default
SCORED_FAMILIES = ("process", "sensor")
#: After a fault ends, how long its consequences are not counted as false alarms.
RECOVERY_S: Mapping[str, float] = {"process": 24 * 3600.0, "sensor": 3600.0, "link": 3600.0}
DETECT_GRACE_S = 3600.0
#: Acidification tags by canonical id (FOS/TAC, VFA, gas quality), not pH: pH moves last.
ACID_TAGS = ("dig1.fos", "dig1.fos_tac", "dig1.vfa", "gas.ch4", "gas.co2", "gas.h2")
PH_LIMIT = 7.0


@dataclass(frozen=True)
class Episode:
    """One alert of one tag: opened at ``start_s``, cleared at ``end_s`` (run seconds)."""

    tag: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class FaultOutcome:
    kind: str
    family: str
    target: str
    magnitude: float
    start_s: float
    end_s: float
    tags: tuple[str, ...]  # scored tags in the plant's names
    delay_s: float | None  # None: missed
    by: str | None  # the tag whose new episode detected it
    lenient_delay_s: float | None  # any flag of any tag in the window (old scoring)
    causes: tuple[str, ...] = ()  # of the incidents that opened in the fault's window


@dataclass(frozen=True)
class AcidOutcome:
    """Acidification warning of an overload: the first new episode on an acidification tag
    after the fault started, against the first time the true pH fell below 7.0."""

    flagged_s: float | None
    ph_below_s: float | None
    by: str | None

    @property
    def lead_h(self) -> float | None:
        if self.flagged_s is None or self.ph_below_s is None:
            return None
        return (self.ph_below_s - self.flagged_s) / 3600.0


@dataclass(frozen=True)
class SimRun:
    scenario: str
    plant: str
    split: str
    days: float  # scored plant-days (after the commissioning lead-in)
    faults: tuple[FaultOutcome, ...]
    openings: int  # alert openings outside fault windows
    incidents: int  # incident openings outside fault windows
    alarm_s: float  # time with any alert open, outside fault windows
    quiet_s: float  # scored time outside fault windows
    #: the same two with process faults lasting until the plant's true state was back
    alarm_recovered_s: float
    quiet_recovered_s: float
    tag_alarm_s: float  # alert-seconds summed over tags, outside fault windows
    lenient_false_alerts: int
    acid: tuple[AcidOutcome, ...]
    unscored: tuple[str, ...]
    noisiest: tuple[tuple[str, int, float], ...]  # (tag, openings, hours) outside faults

    @property
    def quiet_days(self) -> float:
        return self.quiet_s / 86400.0


def episodes(elapsed: F64, flags: BoolArray, tags: Sequence[tuple[str, ...]], *,
             clear_after_s: float = CLEAR_AFTER_S, holdoff_s: float = HOLDOFF_S,
             end_s: float | None = None) -> list[Episode]:
    """Alert episodes per tag from per-row flags, as the alert agent opens and clears them
    (an episode still open at the end of the run ends at ``end_s``)."""
    stop = float(elapsed[-1]) if end_s is None else end_s
    open_: dict[str, list[float]] = {}  # tag -> [start, last flag]
    holdoff: dict[str, float] = {}
    out: list[Episode] = []
    for i in np.flatnonzero(flags).tolist():
        t = float(elapsed[i])
        for tag in tags[i]:
            ep = open_.get(tag)
            if ep is not None and t - ep[1] >= clear_after_s:
                out.append(Episode(tag, ep[0], ep[1] + clear_after_s))
                holdoff[tag] = ep[1] + clear_after_s + holdoff_s
                del open_[tag]
                ep = None
            if ep is None:
                if t < holdoff.get(tag, -np.inf):
                    continue
                open_[tag] = [t, t]
            else:
                ep[1] = t
    for tag, (start, last) in open_.items():
        out.append(Episode(tag, start, min(last + clear_after_s, stop)))
    return sorted(out, key=lambda e: (e.start_s, e.tag))


def _union(intervals: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _outside(a: float, b: float, windows: Sequence[tuple[float, float]]) -> float:
    """Length of [a, b] outside the (merged) ``windows``."""
    length = b - a
    for wa, wb in windows:
        length -= max(0.0, min(b, wb) - max(a, wa))
    return max(length, 0.0)


def _inside(t: float, windows: Sequence[tuple[float, float]]) -> bool:
    return any(a <= t <= b for a, b in windows)


def seconds(stamp: str, origin: datetime) -> float:
    return (datetime.fromisoformat(stamp) - origin).total_seconds()


@dataclass(frozen=True)
class RunData:
    """What one replayed run produced, for scoring."""

    elapsed: F64  # run seconds of each row
    flags: BoolArray
    tags: tuple[tuple[str, ...], ...]
    ph: F64  # the digester's true pH per row (not the sensor)
    scored_from_s: float  # end of the commissioning lead-in
    #: the alert agent's incidents (opened, cleared, cause) in run seconds; None: a baseline
    #: without them (its incidents are the spans with any alert open)
    incidents: tuple[tuple[float, float, str], ...] | None = None
    #: per label, the run second the plant had recovered from it (None: by ``RECOVERY_S``),
    #: for the second time-in-alarm figure
    recovered_s: tuple[float | None, ...] = ()


def score(name: str, plant: str, split: str, labels: Sequence[Mapping[str, object]],
          data: RunData, origin: datetime, rename: Callable[[str], str | None], *,
          detect_grace_s: float = DETECT_GRACE_S) -> SimRun:
    """Score one run (see the module docstring); ``rename`` maps a canonical tag to the plant's
    name, None when the plant lacks it."""
    eps = episodes(data.elapsed, data.flags, data.tags)
    start0, stop = data.scored_from_s, float(data.elapsed[-1])
    windows: list[tuple[float, float]] = []
    recovered: list[tuple[float, float]] = []  # until the plant's true state was back
    outcomes: list[FaultOutcome] = []
    acid: list[AcidOutcome] = []
    unscored: list[str] = []
    acid_tags = {n for n in map(rename, ACID_TAGS) if n is not None}
    for n, label in enumerate(labels):
        family = str(label["family"])
        start, end = seconds(str(label["start"]), origin), seconds(str(label["end"]), origin)
        windows.append((start, end + RECOVERY_S.get(family, 3600.0)))
        back = data.recovered_s[n] if n < len(data.recovered_s) else None
        recovered.append(windows[-1] if back is None else (start, back))
        if family not in SCORED_FAMILIES:
            unscored.append(str(label["kind"]))
            continue
        canonical = [*_strings(label.get("acts_on")), *_strings(label.get("moves"))]
        scored = tuple(dict.fromkeys(n for n in map(rename, canonical) if n is not None))
        hit = next((e for e in eps if e.tag in scored
                    and start <= e.start_s <= end + detect_grace_s), None)
        inside = np.flatnonzero(data.flags & (data.elapsed >= start)
                                & (data.elapsed <= end + detect_grace_s))
        magnitude = label.get("magnitude")
        outcomes.append(FaultOutcome(
            kind=str(label["kind"]), family=family, target=str(label["target"]),
            magnitude=float(magnitude) if isinstance(magnitude, int | float) else 0.0,
            start_s=start, end_s=end, tags=scored,
            delay_s=None if hit is None else hit.start_s - start,
            by=None if hit is None else hit.tag,
            lenient_delay_s=float(data.elapsed[inside[0]] - start) if len(inside) else None,
            causes=tuple(dict.fromkeys(c for a, _, c in data.incidents or ()
                                       if start <= a <= end + detect_grace_s))))
        if label["kind"] == "overload":
            first = next((e for e in eps if e.tag in acid_tags and start <= e.start_s <= end),
                         None)
            below = np.flatnonzero((data.elapsed >= start) & (data.ph < PH_LIMIT))
            acid.append(AcidOutcome(None if first is None else first.start_s,
                                    float(data.elapsed[below[0]]) if len(below) else None,
                                    None if first is None else first.tag))
    merged = _union([*windows, (0.0, start0)])
    quiet_s = _outside(0.0, stop, merged)
    plant_alarm = _union([(e.start_s, e.end_s) for e in eps])
    per_tag: dict[str, list[float]] = {}
    openings = 0
    for e in eps:
        if _inside(e.start_s, merged):
            continue
        openings += 1
        count_h = per_tag.setdefault(e.tag, [0.0, 0.0])
        count_h[0] += 1
        count_h[1] += _outside(e.start_s, e.end_s, merged) / 3600.0
    spans = plant_alarm if data.incidents is None else [(a, b) for a, b, _ in data.incidents]
    incidents = sum(1 for a, _ in spans if not _inside(a, merged))
    if data.incidents is not None:  # what the operator sees: an incident open
        plant_alarm = _union(spans)
    merged_back = _union([*recovered, (0.0, start0)])
    lenient = _lenient_false_alerts(data, merged)
    noisiest = sorted(((t, int(c), h) for t, (c, h) in per_tag.items()),
                      key=lambda x: (-x[1], -x[2]))[:5]
    return SimRun(
        scenario=name, plant=plant, split=split, days=(stop - start0) / 86400.0,
        faults=tuple(outcomes), openings=openings, incidents=incidents,
        alarm_s=sum(_outside(a, b, merged) for a, b in plant_alarm), quiet_s=quiet_s,
        alarm_recovered_s=sum(_outside(a, b, merged_back) for a, b in plant_alarm),
        quiet_recovered_s=_outside(0.0, stop, merged_back),
        tag_alarm_s=sum(_outside(e.start_s, e.end_s, merged) for e in eps),
        lenient_false_alerts=lenient, acid=tuple(acid), unscored=tuple(unscored),
        noisiest=tuple(noisiest))


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def _lenient_false_alerts(data: RunData, windows: Sequence[tuple[float, float]]) -> int:
    """The old count: per tag, a flag outside the windows opens an alert unless the tag's
    previous flag was less than clear + hold-off before (LENIENT: kept for comparison)."""
    last: dict[str, float] = {}
    count = 0
    for i in np.flatnonzero(data.flags):
        t = float(data.elapsed[i])
        if t < data.scored_from_s:
            continue
        for tag in data.tags[i]:
            previous = last.get(tag)
            if not _inside(t, windows) and (previous is None
                                            or t - previous > CLEAR_AFTER_S + HOLDOFF_S):
                count += 1
            last[tag] = t
    return count
