"""When a simulated plant has recovered from a process fault, from its true state.

A process fault's consequences outlast it: after a 24-hour heating failure a large digester
with little heating reserve stays below its temperature for days, and an alarm on it then is
true, not false. The scoring therefore counts false alarms only once the plant is back: the
first time after the fault ends from which, for an hour, every analog tag the fault acts on
or is expected to move (the label's ``acts_on`` and ``moves``; counters, integrators, states
and alarms left out) reads, *without* measurement noise or sensor faults, within the range
it held during the commissioning lead-in (widened by ``TOLERANCE`` of that range). Never
before ``MIN_RECOVERY_S`` after the fault ends, never after ``MAX_RECOVERY_S``.

The times come from the simulator's state, not from any detector: every detector (and every
baseline) is scored against the same windows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np
import numpy.typing as npt

from simulator.catalogue import CATALOGUE
from streams.events import TagKind

F64 = npt.NDArray[np.float64]

MIN_RECOVERY_S = 3600.0
MAX_RECOVERY_S = 7 * 86400.0
HOLD_S = 3600.0
TOLERANCE = 0.05


def recovery_tags(label: Mapping[str, object], known: Sequence[str]) -> list[str]:
    """The analog tags whose return marks the end of a process fault's consequences."""
    named = [*_strings(label.get("acts_on")), *_strings(label.get("moves"))]
    return [t for t in dict.fromkeys(named) if t in known
            and CATALOGUE.get(t, (None, ""))[0] in (None, TagKind.ANALOG)]


def recovered_at(labels: Sequence[Mapping[str, object]], origin: datetime, tags: Sequence[str],
                 truth: F64, elapsed: F64, lead_in_s: float) -> tuple[float | None, ...]:
    """Per label (None for any but process faults): the run second the plant had recovered
    from it. ``truth``: the true value of each of ``tags`` (canonical ids) per row."""
    lead = elapsed <= lead_in_s
    column = {t: i for i, t in enumerate(tags)}
    out: list[float | None] = []
    for label in labels:
        if label.get("family") != "process":
            out.append(None)
            continue
        end = (datetime.fromisoformat(str(label["end"])) - origin).total_seconds()
        earliest, latest = end + MIN_RECOVERY_S, min(end + MAX_RECOVERY_S, float(elapsed[-1]))
        cols = [column[t] for t in recovery_tags(label, tags)]
        if not cols:
            out.append(earliest)
            continue
        values = truth[:, cols]
        lo, hi = np.nanmin(values[lead], axis=0), np.nanmax(values[lead], axis=0)
        slack = TOLERANCE * (hi - lo) + 1e-9
        inside = ((values >= lo - slack) & (values <= hi + slack)) | np.isnan(values)
        back = inside.all(axis=1)
        out.append(_first_hold(elapsed, back, end, latest, earliest))
    return tuple(out)


def _first_hold(elapsed: F64, ok: npt.NDArray[np.bool_], after: float, latest: float,
                earliest: float) -> float:
    """The first time at or after ``after`` from which ``ok`` holds for ``HOLD_S`` (at least
    ``earliest``; ``latest`` when it never does)."""
    since: float | None = None
    for i in np.flatnonzero(elapsed >= after):
        t = float(elapsed[i])
        if t > latest:
            break
        if not ok[i]:
            since = None
            continue
        if since is None:
            since = t
        if t - since >= HOLD_S:
            return max(since, earliest)
    return latest


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else []
