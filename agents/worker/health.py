"""What the agents worker reports on ``/health`` and ``/metrics`` (served by
:mod:`ops.endpoints`).

Nothing here is on the hot path: the counters are the detect worker's own counts, read when
Prometheus scrapes; the input offsets are those the stall watch reads anyway (every
``min(10, stall_after_s / 4)`` s); the checkpoint is the time of the last snapshot flush.

* ``status``: ``starting`` until the tables are recovered and input partitions assigned,
  ``degraded`` while an input partition stands still behind the log (the stall watch seeks
  it back, and ends the worker if that does not help), ``ok`` otherwise.
* consumer lag: per input partition, the records between the group's committed offset and
  the log's end (transaction markers included: a partition of API commands shows 1 at rest);
* checkpoint age: seconds since the state snapshots last reached the broker (only while there
  was something to process: an idle worker has nothing to checkpoint).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from agents.worker.stall_watch import Offsets, Partition

#: detect worker count -> (metric name, help)
_COUNTS = {
    "scans": ("agents_scans", "Scans processed."),
    "skipped": ("agents_scans_skipped", "Scans skipped (seen before, or late)."),
    "features": ("agents_features", "FeaturesComputed events published."),
    "anomalies": ("agents_anomalies", "AnomalyDetected events published."),
    "shadow_comparisons": ("agents_shadow_comparisons", "ModelShadowCompared published."),
    "dead_letters": ("agents_dead_letters", "Messages parked on the dead-letter topic."),
    "checkpoints": ("agents_checkpoints", "State checkpoints (snapshots on the broker, then "
                    "the messages before them acknowledged)."),
    "snapshots": ("agents_state_snapshots", "Stream and plant snapshots written."),
    "state_bytes": ("agents_state_bytes", "Bytes of the snapshots written (to the changelog)."),
}


class WorkerHealth(Collector):
    """The worker's state as the endpoints show it; fed by the app's timers and agents."""

    def __init__(self, counts: Mapping[str, int], *, ready: Callable[[], bool],
                 clock: Callable[[], float] = time.time) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._counts, self._ready, self._clock = counts, ready, clock
        self._started = clock()
        self._offsets: dict[Partition, Offsets] = {}
        self._offsets_at: float | None = None
        self._checkpoint_at: float | None = None
        self._batch_at: float | None = None
        self._stalled: set[Partition] = set()
        self.seeks = 0
        self.registry.register(self)

    def offsets_read(self, offsets: Mapping[Partition, Offsets]) -> None:
        self._offsets, self._offsets_at = dict(offsets), self._clock()

    def batch_done(self, *, checkpointed: bool) -> None:
        self._batch_at = self._clock()
        if checkpointed:
            self.checkpoint_done()

    def checkpoint_done(self) -> None:
        """A checkpoint reached the broker (after a batch, or on its own when the input is
        quiet: that is no batch)."""
        self._checkpoint_at = self._clock()

    def stalled(self, partitions: Iterable[Partition]) -> None:
        """The partitions the stall watch found standing still (empty: none)."""
        self._stalled = set(partitions)

    def _lag(self) -> dict[Partition, int]:
        return {p: o.behind for p, o in self._offsets.items()}

    def _age(self, at: float | None) -> float:
        return round(self._clock() - (self._started if at is None else at), 3)

    def status(self) -> str:
        if not self._ready():
            return "starting"
        return "degraded" if self._stalled else "ok"

    def report(self) -> dict[str, Any]:
        """The ``/health`` body."""
        return {"status": self.status(),
                "uptime_s": self._age(None),
                "counts": dict(self._counts),
                "input_lag": {str(p): behind for p, behind in sorted(
                    self._lag().items(), key=lambda x: (x[0].topic, x[0].partition))},
                "stalled": sorted(str(p) for p in self._stalled),
                "offsets_read_s_ago": None if self._offsets_at is None
                else self._age(self._offsets_at),
                "last_batch_s_ago": None if self._batch_at is None else self._age(self._batch_at),
                "checkpoint_age_s": None if self._checkpoint_at is None
                else self._age(self._checkpoint_at),
                "stall_seeks": self.seeks}

    def collect(self) -> Iterable[Any]:
        for key, (name, text) in _COUNTS.items():
            yield CounterMetricFamily(name, text, value=self._counts.get(key, 0))
        yield CounterMetricFamily("agents_stall_seeks", "Input partitions sought back to "
                                  "their committed offset by the stall watch.", value=self.seeks)
        up = GaugeMetricFamily("agents_ready", "1 once the tables are recovered and inputs "
                               "assigned.", value=1.0 if self._ready() else 0.0)
        yield up
        lag = GaugeMetricFamily("agents_input_lag", "Records between the group's committed "
                                "offset and the log's end, per input partition.",
                                labels=["topic", "partition"])
        for p, behind in self._lag().items():
            lag.add_metric([p.topic, str(p.partition)], float(behind))
        yield lag
        stalled = GaugeMetricFamily("agents_input_stalled", "1 while the partition stands "
                                    "still behind the log.", labels=["topic", "partition"])
        for p in self._stalled:
            stalled.add_metric([p.topic, str(p.partition)], 1.0)
        yield stalled
        if self._checkpoint_at is not None:
            yield GaugeMetricFamily("agents_checkpoint_age_seconds", "Seconds since the state "
                                    "snapshots last reached the broker.",
                                    value=self._age(self._checkpoint_at))
        if self._batch_at is not None:
            yield GaugeMetricFamily("agents_last_batch_age_seconds", "Seconds since the last "
                                    "batch of scans was handled.", value=self._age(self._batch_at))
        if self._offsets_at is not None:
            yield GaugeMetricFamily("agents_offsets_read_age_seconds", "Seconds since the "
                                    "input offsets were last read.",
                                    value=self._age(self._offsets_at))
