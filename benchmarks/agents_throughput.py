"""Detector path throughput through the real broker: the Faust worker (``python -m agents``)
beside a bare aiokafka consume loop doing the same work, in one run.

    .venv/bin/python benchmarks/agents_throughput.py [--scans 6001] [--tags 50]

Both read the same ``--scans`` scans of ``--tags`` readings and run decode + rolling features +
zscore/HalfSpaceTrees/ONNX IsolationForest + vote + publish + state snapshots at the worker's
checkpoints (``BIOGAS_AGENTS_CHECKPOINT_EVERY_S``; offsets committed there). The rate
is taken from the broker timestamps of the first and the last ``FeaturesComputed`` (emitted at the
first scan and, with scans one second apart from a minute boundary, at the last), so start-up
and consumer-group joins are not counted. Needs ``BIOGAS_KAFKA_BOOTSTRAP_SERVERS``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from agents.deadletter import Position
from agents.detect_worker import DetectWorker, Message, Publish
from agents.detectors.onnx_scorer import OnnxDetector
from agents.detectors.rules import DEFAULT_RULES
from agents.features.reading import MODEL_FEATURES
from agents.pipeline import ModelSlot, ScanProcessor
from agents.settings import AgentsSettings
from agents.stream_state import DetectionConfig
from agents.worker.output_producer import BATCH_BYTES
from logio.topic_admin import delete_topics, ensure_topics
from modelops.export.iforest import export_iforest, train_iforest
from modelops.signing import new_key_pair, sign_artifact
from ops.gc_tuning import tune_for_streaming
from streams.codec import decode, encode
from streams.events import FeaturesComputed, ModelDeployed, ModelRef, Quality, Reading
from streams.events import ScanRecorded as Scan
from streams.settings import KafkaSettings
from streams.topics import Topics

ROOT = Path(__file__).resolve().parents[1]
WARMUP = 200


def scans(n: int, n_tags: int) -> list[bytes]:
    rng = np.random.default_rng(0)
    boot = uuid.uuid4()
    start = datetime(2026, 3, 1, tzinfo=UTC)
    tags = [f"plc.t{i:02d}" for i in range(n_tags)]
    values = 100.0 + rng.normal(size=(n, n_tags))
    return [encode(Scan(plant_id="bench", edge_boot_id=boot, seq=k, device="plc",
                        poll_group="fast", source_ts=start + timedelta(seconds=k),
                        readings=tuple(Reading(tag=t, value=round(float(v), 3),
                                               quality=Quality.GOOD)
                                       for t, v in zip(tags, values[k], strict=True))))
            for k in range(n)]


async def produce(servers: str, topic: str, payloads: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=servers, linger_ms=20,
                                max_batch_size=1 << 20, enable_idempotence=True)
    await producer.start()
    try:
        futs = [await producer.send(topic, p, key=b"bench") for p in payloads]
        await asyncio.gather(*futs)
    finally:
        await producer.stop()


async def features_span(servers: str, topics: Topics, n_scans: int, timeout: float) -> float:
    """Seconds between the broker timestamps of the first and last FeaturesComputed."""
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, group_id=None)
    tps = [TopicPartition(topics.name("features"), p)
           for p in range(topics["features"].partitions)]
    await consumer.start()
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    first: int | None = None
    last: int | None = None
    deadline = time.monotonic() + timeout
    try:
        while last is None and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    event = decode(r.value)
                    stamp = int(r.timestamp)
                    if isinstance(event, FeaturesComputed) and event.source_seq == 0:
                        first = stamp if first is None else min(first, stamp)
                    if isinstance(event, FeaturesComputed) and event.source_seq == n_scans - 1:
                        last = stamp
    finally:
        await consumer.stop()
    if first is None or last is None:
        raise SystemExit("timed out waiting for the last features")
    return (last - first) / 1000.0


def model(tmp: Path, keys: Path) -> tuple[ModelDeployed, bytes]:
    rows = np.random.default_rng(1).normal(size=(5000, len(MODEL_FEATURES)))
    data = export_iforest(train_iforest(rows, n_estimators=100))
    path = tmp / "iforest.onnx"
    path.write_bytes(data)
    signed = sign_artifact(data, new_key_pair(keys, "bench"), "bench")
    return ModelDeployed(model_id="iforest", version="1", plant_id=None, sha256=signed.sha256,
                         artifact_uri=path.as_uri(), signature=signed.signature,
                         key_id="bench", features=MODEL_FEATURES, deployed_by="bench",
                         deployed_at=datetime.now(UTC)), data


async def faust_side(servers: str, topics: Topics, n: int, tmp: Path, keys: Path,
                     app_id: str, statistical: bool) -> float:
    env = dict(os.environ, BIOGAS_KAFKA_BOOTSTRAP_SERVERS=servers,
               BIOGAS_AGENTS_STATISTICAL=str(statistical).lower(),
               BIOGAS_AGENTS_APP_ID=app_id,
               BIOGAS_TOPIC_PREFIX=topics.prefix, BIOGAS_AGENTS_DATA_DIR=str(tmp / "d"),
               BIOGAS_AGENTS_WARMUP_SAMPLES=str(WARMUP), BIOGAS_AGENTS_LATE_AFTER_S="1e12",
               BIOGAS_AGENTS_TRUSTED_KEYS_DIR=str(keys),
               BIOGAS_LOG_LEVEL="warning", BIOGAS_LOG_FORMAT="json",
               BIOGAS_AGENTS_METRICS_PORT="0")
    with (tmp / "faust.log").open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "agents", cwd=ROOT, env=env, stdout=log,
            stderr=subprocess.STDOUT)
        try:
            return await features_span(servers, topics, n, timeout=600)
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), timeout=30)


class DictStore:
    """Snapshots kept in memory and written to a compacted topic, as the worker writes its
    table's changelog."""

    def __init__(self, publish: Publish, topic: str) -> None:
        self.data: dict[str, bytes] = {}
        self.publish, self.topic = publish, topic

    def load(self, key: str) -> bytes | None:
        return self.data.get(key)

    async def save(self, key: str, partition: int, data: bytes) -> Awaitable[object]:
        self.data[key] = data
        return await self.publish(self.topic, key.encode(), data, partition=partition)


async def bare_side(servers: str, topics: Topics, source: str, n: int,
                    artifact: bytes, statistical: bool) -> float:
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    state_topic = f"{topics.prefix}bench-state"
    await admin.create_topics([NewTopic(state_topic, 6, 1, topic_configs={
        "cleanup.policy": "compact"})])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all", linger_ms=5,
                                enable_idempotence=True, max_batch_size=BATCH_BYTES,
                                max_request_size=BATCH_BYTES)
    consumer = AIOKafkaConsumer(source, bootstrap_servers=servers,
                                group_id=f"bare-{uuid.uuid4().hex[:8]}",
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                max_poll_records=1000)
    await producer.start()
    await consumer.start()

    async def publish(topic: str, key: bytes, value: bytes | None,
                      partition: int | None = None) -> Awaitable[object]:
        fut: Awaitable[object] = await producer.send(topic, value, key=key, partition=partition)
        return fut

    ref = ModelRef(model_id="iforest", version="1", sha256="0" * 64)
    processor = ScanProcessor(DetectionConfig(warmup=WARMUP, statistical=statistical),
                              DEFAULT_RULES,
                              late_after_s=1e12,
                              model=ModelSlot(OnnxDetector(artifact, ref=ref)))
    store = DictStore(publish, state_topic)
    # the worker's checkpoint policy: snapshots and commits as the Faust worker makes them
    shipped = AgentsSettings()
    worker = DetectWorker(processor, topics, publish, store,
                          checkpoint_every_s=shipped.checkpoint_every_s,
                          checkpoint_every_scans=shipped.checkpoint_every_scans)
    span = asyncio.create_task(features_span(servers, topics, n, timeout=600))
    try:
        while not span.done():
            batches = await consumer.getmany(timeout_ms=200, max_records=1000)
            checkpointed = False
            for tp, records in batches.items():
                checkpointed |= await worker.handle(
                    [Message(Position(tp.topic, tp.partition, r.offset), r.key, r.value)
                     for r in records])
            if checkpointed:
                await consumer.commit()
        return await span
    finally:
        await consumer.stop()
        await producer.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=6001,
                        help="scans (use 60k+1 so the last one emits features)")
    parser.add_argument("--tags", type=int, default=50)
    parser.add_argument("--statistical", action="store_true",
                        help="add the per-reading statistical detectors (z-score, HST) to the "
                             "shipped defaults (baseline detector, rules, deployed models)")
    args = parser.parse_args()
    servers = KafkaSettings().bootstrap_servers
    faust_topics = Topics(prefix=f"bf{uuid.uuid4().hex[:8]}.")
    app_id = f"bench-{uuid.uuid4().hex[:8]}"
    bare_topics = Topics(prefix=f"bb{uuid.uuid4().hex[:8]}.")
    kafka = KafkaSettings(bootstrap_servers=servers)
    payloads = scans(args.scans, args.tags)
    readings = (args.scans - 1) * args.tags
    out = sys.stdout
    out.write(f"{args.scans} scans x {args.tags} readings through {servers}\n")
    await ensure_topics(kafka, faust_topics)
    await ensure_topics(kafka, bare_topics)
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            deployed, artifact = model(tmp, tmp / "keys")
            await produce(servers, faust_topics.name("scans"), payloads)
            await produce(servers, faust_topics.name("model-deployments"), [encode(deployed)])
            t_faust = await faust_side(servers, faust_topics, args.scans, tmp, tmp / "keys",
                                       app_id, args.statistical)
            out.write(f"  faust worker     {readings / t_faust:10,.0f} readings/s "
                      f"({(args.scans - 1) / t_faust:7,.0f} scans/s, {t_faust:.2f} s)\n")
            tune_for_streaming()  # as the worker does (agents/worker/runner.py)
            t_bare = await bare_side(servers, bare_topics, faust_topics.name("scans"),
                                     args.scans, artifact, args.statistical)
            out.write(f"  bare aiokafka    {readings / t_bare:10,.0f} readings/s "
                      f"({(args.scans - 1) / t_bare:7,.0f} scans/s, {t_bare:.2f} s)\n")
            out.write(f"  framework overhead: faust takes {t_faust / t_bare:.2f}x the time "
                      "of the bare loop\n")
    finally:
        await delete_topics(kafka, faust_topics.names())
        await delete_topics(kafka, [*bare_topics.names(), f"{bare_topics.prefix}bench-state"])
        admin = AIOKafkaAdminClient(bootstrap_servers=servers)
        await admin.start()
        internal = [t for t in await admin.list_topics() if t.startswith(f"{app_id}-")]
        await admin.close()
        await delete_topics(kafka, internal)


if __name__ == "__main__":
    asyncio.run(main())
