"""What the projector reports on ``/health`` and ``/metrics`` (served by
:mod:`ops.endpoints`), read from the projector when asked: nothing on the write path.

* ``status``: ``starting`` until the consumer has its partitions and their stored offsets,
  ``degraded`` while the database refuses work (the projector retries with back-off and loses
  nothing), ``ok`` otherwise;
* projection lag: per partition, the committed records on the log (its last stable offset)
  that are not yet in the database (the offsets stored with the rows);
* the age of the last batch written.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector


@dataclass
class ProjectionProgress:
    """The projector's own account of where it stands (it writes, the endpoints read)."""

    events: int = 0
    readings: int = 0
    #: (topic, partition) -> the next offset to project (stored with the rows); None: none yet
    positions: dict[tuple[str, int], int | None] = field(default_factory=dict)
    synced: bool = False
    applied_at: float | None = None
    #: since when the database has been refusing work (None: it answers)
    db_failing_since: float | None = None
    db_errors: int = 0


class ProjectorHealth(Collector):
    """``/health`` and ``/metrics`` of one projector worker. ``log_ends`` gives, per assigned
    partition, the offset a read-committed consumer can read up to (None: not known yet)."""

    def __init__(self, progress: ProjectionProgress,
                 log_ends: Callable[[], Mapping[tuple[str, int], int | None]],
                 clock: Callable[[], float] = time.time) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._progress, self._log_ends, self._clock = progress, log_ends, clock
        self._started = clock()
        self.registry.register(self)

    def lag(self) -> dict[tuple[str, int], int]:
        out = {}
        for tp, end in self._log_ends().items():
            position = self._progress.positions.get(tp)
            if end is not None and position is not None:
                out[tp] = max(0, end - position)
        return out

    def status(self) -> str:
        p = self._progress
        if p.db_failing_since is not None:
            return "degraded"
        return "ok" if p.synced else "starting"

    def report(self) -> dict[str, Any]:
        """The ``/health`` body."""
        p, now = self._progress, self._clock()
        return {"status": self.status(), "uptime_s": round(now - self._started, 3),
                "events": p.events, "readings": p.readings,
                "lag": {f"{t}:{n}": v for (t, n), v in sorted(self.lag().items())},
                "last_batch_s_ago": None if p.applied_at is None
                else round(now - p.applied_at, 3),
                "database": "answering" if p.db_failing_since is None
                else f"refusing for {round(now - p.db_failing_since, 1)} s",
                "database_errors": p.db_errors}

    def collect(self) -> Iterable[Any]:
        p, now = self._progress, self._clock()
        yield CounterMetricFamily("projector_events", "Events written to the database.",
                                  value=p.events)
        yield CounterMetricFamily("projector_readings", "Readings written to the database.",
                                  value=p.readings)
        yield CounterMetricFamily("projector_database_errors", "Database calls that failed "
                                  "and were retried.", value=p.db_errors)
        yield GaugeMetricFamily("projector_database_up", "0 while the database refuses work.",
                                value=0.0 if p.db_failing_since is not None else 1.0)
        lag = GaugeMetricFamily("projector_lag", "Committed records on the log not yet in the "
                                "database, per partition.", labels=["topic", "partition"])
        for (topic, partition), behind in self.lag().items():
            lag.add_metric([topic, str(partition)], float(behind))
        yield lag
        if p.applied_at is not None:
            yield GaugeMetricFamily("projector_last_batch_age_seconds", "Seconds since the "
                                    "last batch was written.", value=now - p.applied_at)
