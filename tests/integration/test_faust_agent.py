"""A Faust agent (faust-streaming) consumes one topic and produces to another on the real broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.codec import decode, encode
from streams.events import FeaturesComputed, ScanRecorded
from streams.topics import Topics
from tests.examples import example_events
from tests.integration.conftest import StackEndpoints
from tests.waiting import eventually_async

ROOT = Path(__file__).resolve().parents[2]


async def test_faust_agent_relays_scans_to_features(
        stack: StackEndpoints, topics: Topics, unique: str, tmp_path: Path) -> None:
    scan = next(e for e in example_events() if isinstance(e, ScanRecorded))
    scans = [scan.model_copy(update={"seq": n, "event_id": uuid.uuid4()}) for n in range(20)]
    source, sink = topics.name("scans"), topics.name("features")
    env = dict(os.environ, BIOGAS_KAFKA_BOOTSTRAP_SERVERS=stack.bootstrap_servers,
               RELAY_APP_ID=f"relay-{unique}", RELAY_SOURCE=source, RELAY_SINK=sink)
    log = (tmp_path / "faust.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.faust_relay_app",
         "--datadir", str(tmp_path / "faust-data"), "worker", "-l", "info"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap_servers,
                                    enable_idempotence=True)
        await producer.start()
        try:
            for event in scans:
                await producer.send_and_wait(source, encode(event), key=topics.key_for(event))
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(sink, bootstrap_servers=stack.bootstrap_servers,
                                    group_id=f"check-{unique}", auto_offset_reset="earliest")
        await consumer.start()
        got: list[FeaturesComputed] = []
        try:
            async def all_relayed() -> bool:
                if worker.poll() is not None:
                    raise RuntimeError("the Faust worker exited: "
                                       + (tmp_path / "faust.log").read_text()[-3000:])
                batches = await consumer.getmany(timeout_ms=200)
                for records in batches.values():
                    for record in records:
                        event = decode(record.value)
                        assert isinstance(event, FeaturesComputed)
                        got.append(event)
                return len(got) >= len(scans)

            await eventually_async(all_relayed, timeout=60, what="the agent's output")
        finally:
            await consumer.stop()
        assert sorted(e.source_seq or 0 for e in got) == list(range(20))
        assert all(e.features["readings"] == len(scan.readings) for e in got)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()
