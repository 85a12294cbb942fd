"""Compile (or load from numba's cache) every kernel of the per-scan path before the worker
joins its consumer group: a first compilation takes seconds, which must not stall the event
loop (and its heartbeats) on the first scan."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

from agents.detectors.baseline import BaselineConfig
from agents.detectors.rules import DEFAULT_RULES, RuleSpec
from agents.pipeline import ScanProcessor
from agents.stream_state import DetectionConfig
from streams.events import Quality, Reading, ScanRecorded


def warm_up_kernels() -> float:
    """Run a few scans through a throwaway processor; returns the seconds it took."""
    started = time.perf_counter()
    novelty = RuleSpec(pattern="warmup.a", novelty=True, novelty_warmup_scans=2,
                       novelty_rest_scans=0)  # past its warm-up within the scans below
    config = DetectionConfig(warmup=1, hst_window=2, statistical=True,
                             baseline=BaselineConfig(commission_s=1.0, min_samples=1))
    processor = ScanProcessor(config, (novelty, *DEFAULT_RULES), late_after_s=1e12)
    boot = uuid.UUID(int=0)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for k in range(4):
        readings = (Reading(tag="warmup.a", value=float(k % 2), quality=Quality.GOOD),
                    Reading(tag="warmup.b", value=None, quality=Quality.COMM_FAIL))
        processor.process(ScanRecorded(plant_id="warmup", edge_boot_id=boot, seq=k,
                                       device="warmup", poll_group="warmup",
                                       source_ts=t0 + timedelta(seconds=k), readings=readings))
    return time.perf_counter() - started
