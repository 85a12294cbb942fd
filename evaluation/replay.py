"""Run the online detector path offline: table rows become scans for
:class:`agents.pipeline.ScanProcessor`, one tag per column, timestamps from the data.

Nothing here scores or thresholds on its own: every flag comes from the agents' features,
detectors, adaptive thresholds and vote, exactly as the worker runs them. The wall clock follows
the data (one second after each scan), so no scan is retrospective.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from agents.alerts.incidents import PlantAlerts
from agents.detectors.deployed import DeployedModel
from agents.detectors.rules import DEFAULT_RULES, RuleSpec
from agents.pipeline import ModelSlot, ScanProcessor
from agents.stream_state import DetectionConfig
from streams.events import AlertOpened, AlertUpdated, Quality, Reading, ScanRecorded, TagsConfigured

F64 = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
_TAG_CHARS = re.compile(r"[^A-Za-z0-9_.:-]+")
PLANT_ID = "bench"
ALERT_CLEAR_AFTER_S = 300.0  # the agents' defaults (BIOGAS_AGENTS_ALERT_*)
ALERT_HOLDOFF_S = 600.0


def tag_name(column: str) -> str:
    """A column name as a valid tag (``Volume Flow RateRMS`` -> ``Volume_Flow_RateRMS``)."""
    return _TAG_CHARS.sub("_", column.strip()) or "value"


@dataclass(frozen=True)
class ReplayOptions:
    """How the detector path is configured for an offline run (the worker's defaults)."""

    config: DetectionConfig = field(default_factory=DetectionConfig)
    rules: tuple[RuleSpec, ...] = DEFAULT_RULES


@dataclass(frozen=True)
class ReplayResult:
    """Per input row: whether the vote flagged any reading, and the anomaly's strength
    (``AnomalyDetected.score``: max score/threshold of the detectors that voted; 0 when none).
    ``incidents``: the alerts the alert agent opened from the anomalies, as (opened, cleared)
    row timestamps with their (last) cause, at its default hysteresis and hold-off."""

    flags: BoolArray
    strength: F64
    tags: tuple[tuple[str, ...], ...]
    incidents: tuple[tuple[float, float, str], ...] = ()


class _FollowingClock:
    def __init__(self) -> None:
        self.now = datetime(1970, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class TableReplay:
    """One stream (plant ``bench``, one device) fed row by row through a ScanProcessor."""

    def __init__(self, columns: Sequence[str], options: ReplayOptions,
                 models: Sequence[DeployedModel] = (),
                 catalogue: TagsConfigured | None = None) -> None:
        self.tags = [tag_name(c) for c in columns]
        self._clock = _FollowingClock()
        self.processor = ScanProcessor(options.config, options.rules, clock=self._clock,
                                       model=ModelSlot(*models), features_every_s=3600)
        if catalogue is not None:  # what the plant's edge producer publishes on start
            self.processor.catalogue(catalogue.model_copy(update={"plant_id": PLANT_ID}))
        self._boot = uuid.uuid5(uuid.NAMESPACE_URL, "evaluation-replay")
        self._seq = 0

    def scan(self, ts: float, values: npt.NDArray[np.floating[Any]]) -> ScanRecorded:
        """The scan an edge producer would have recorded for one row (NaN = bad quality)."""
        source = datetime.fromtimestamp(float(ts), UTC)
        # tags are valid by construction (tag_name) and values plain floats: nothing to
        # validate per reading, which would cost more than detecting
        good, bad = Quality.GOOD, Quality.COMM_FAIL
        readings = tuple(
            Reading.model_construct(tag=tag, value=v, quality=good) if v == v
            else Reading.model_construct(tag=tag, value=None, quality=bad)
            for tag, v in zip(self.tags, values.tolist(), strict=True))
        scan = ScanRecorded.model_construct(
            event_id=uuid.uuid5(self._boot, str(self._seq)), plant_id=PLANT_ID,
            edge_boot_id=self._boot, seq=self._seq, device="bench", poll_group="all",
            source_ts=source, readings=readings)
        self._seq += 1
        return scan

    def run(self, times: npt.NDArray[np.integer[Any]] | F64, values: F64,
            advance: Callable[[int], object] | None = None) -> ReplayResult:
        """Feed every row; ``advance(n)`` is called as rows are done (a progress bar)."""
        n = len(times)
        flags = np.zeros(n, dtype=np.bool_)
        strength = np.zeros(n)
        tags: list[tuple[str, ...]] = [()] * n
        alerts = PlantAlerts(PLANT_ID)
        opened: dict[str, tuple[float, str]] = {}
        incidents: list[tuple[float, float, str]] = []
        for i in range(n):
            scan = self.scan(float(times[i]), values[i])
            now = self._clock.now = scan.source_ts + timedelta(seconds=1)
            outcome = self.processor.process(scan)
            if outcome.anomalies:
                anomaly = outcome.anomalies[0]
                flags[i] = True
                strength[i] = anomaly.score
                tags[i] = tuple(anomaly.tags)
                for event in alerts.on_anomaly(anomaly, now, holdoff_s=ALERT_HOLDOFF_S):
                    if isinstance(event, AlertOpened):
                        opened[str(event.alert_id)] = (float(times[i]), event.cause)
                    elif isinstance(event, AlertUpdated) and event.cause is not None:
                        start, _ = opened[str(event.alert_id)]
                        opened[str(event.alert_id)] = (start, event.cause)
            if alerts.incidents:
                for cleared in alerts.tick(now, clear_after_s=ALERT_CLEAR_AFTER_S,
                                           holdoff_s=ALERT_HOLDOFF_S):
                    start, cause = opened.pop(str(cleared.alert_id))
                    incidents.append((start, float(times[i]), cause))
            if advance is not None and (i % 256 == 255 or i == n - 1):
                advance(i % 256 + 1)
        end = float(times[-1]) if n else 0.0
        incidents.extend((start, end, cause) for start, cause in opened.values())
        return ReplayResult(flags=flags, strength=strength, tags=tuple(tags),
                            incidents=tuple(sorted(incidents)))
