"""A stream too wide for one record: its snapshot (about 2 MB for 400 tags, past the
broker's 1 MB limit) goes to the changelog in parts, and a worker killed with -9 comes back
with all of it: the same anomalies as an uninterrupted run, no record over the part size."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from aiokafka import AIOKafkaConsumer

from agents import state_chunks
from agents.detectors.rules import DEFAULT_RULES
from agents.pipeline import ScanProcessor
from agents.stream_state import DetectionConfig
from streams.events import AnomalyDetected, FeaturesComputed, Quality, Reading, ScanRecorded
from streams.topics import Topics
from tests.integration.agents_harness import (
    Collector,
    Worker,
    delete_app_topics,
    produce,
    worker_env,
)
from tests.integration.conftest import StackEndpoints

WIDTH = 400
SPIKE_AT, SPIKE_TAG = 1000, "x007"


def wide_scans(n: int, start: datetime) -> list[ScanRecorded]:
    """``n`` scans a second apart of ``WIDTH`` noisy tags; one tag spikes at ``SPIKE_AT``."""
    rng = np.random.default_rng(4)
    means = rng.uniform(10.0, 90.0, WIDTH)
    boot = uuid.uuid4()
    out = []
    for k in range(n):
        values = means + rng.normal(0.0, 0.5, WIDTH)
        if SPIKE_AT <= k < SPIKE_AT + 5:
            values[7] += 30.0
        out.append(ScanRecorded(
            plant_id="plant-wide", edge_boot_id=boot, seq=k, device="plc", poll_group="all",
            source_ts=start + timedelta(seconds=k),
            readings=tuple(Reading(tag=f"x{i:03d}", value=round(float(v), 3),
                                   quality=Quality.GOOD) for i, v in enumerate(values))))
    return out


def last_seq(c: Collector) -> int:
    return max((e.source_seq or 0 for e in c.of(FeaturesComputed)), default=-1)


async def changelog(stack: StackEndpoints, topic: str) -> list[tuple[bytes, bytes | None]]:
    """Every record of the worker's state changelog."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=stack.bootstrap_servers,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(list(consumer.assignment()))
        out: list[tuple[bytes, bytes | None]] = []
        while True:
            behind = [tp for tp, end in ends.items() if await consumer.position(tp) < end]
            if not behind:
                return out
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                out.extend((bytes(r.key or b""), r.value) for r in records)
    finally:
        await consumer.stop()


async def test_a_stream_too_wide_for_one_record_survives_kill_9(
        stack: StackEndpoints, topics: Topics, unique: str, tmp_path: Path) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1300)
    scans = wide_scans(1300, start)
    config = DetectionConfig(warmup=200, statistical=True)
    proc = ScanProcessor(config, DEFAULT_RULES, late_after_s=1e6)
    expected = {a.anomaly_id for s in scans for a in proc.process(s).anomalies}
    assert expected  # the spike, at least
    app_id = f"agents-{unique}"
    env = worker_env(stack, topics, app_id, tmp_path / "data", warmup_samples="200",
                     statistical="true", late_after_s="1000000", batch_within_s="0.05",
                     session_timeout_s="6")
    worker = Worker(env, tmp_path / "worker.log").start()
    try:
        async with Collector(stack, topics, ["features", "anomalies"]) as c:
            await produce(stack, topics, scans[:700])
            await c.wait_for(lambda c: last_seq(c) >= 600, worker, timeout=120,
                             what="the first part")
            worker.kill()
            await produce(stack, topics, scans[700:])
            worker = Worker(env, tmp_path / "worker.log").start()
            # features go out once a minute of event time: the last by 1240
            await c.wait_for(lambda c: last_seq(c) >= 1230 and expected <= {
                a.anomaly_id for a in c.of(AnomalyDetected)}, worker, timeout=180,
                what="the rest after the restart")
            got = {a.anomaly_id for a in c.of(AnomalyDetected)}
            # a restored stream that lost its windows, thresholds or warm-up would differ
            assert got == expected
        assert "unreadable" not in worker.log()
        records = await changelog(stack, f"{app_id}-stream-state-changelog")
        manifests = [v for _, v in records if state_chunks.manifest_of(v) is not None]
        assert manifests, "the wide stream's snapshot was never written in parts"
        assert max(len(v or b"") for _, v in records) <= state_chunks.CHUNK_BYTES
    finally:
        worker.stop()
        await delete_app_topics(stack, app_id)
