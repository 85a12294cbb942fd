"""Journal -> Kafka: every edge event reaches the real broker, in order, across a broker outage
of more than a minute and across kill -9 of the producer; duplicates are only redeliveries of
the same ``(edge_boot_id, seq)``."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from edge_producer.config import PlantConfig
from edge_producer.runtime import EdgeRuntime
from edge_producer.settings import EdgeSettings
from logio.topic_admin import ensure_topics
from stack.kafka import start_kafka
from stack.kafka_jars import ensure_kafka_jars
from stack.processes import free_port
from stack.settings import StackSettings
from streams.codec import decode
from streams.events import EdgeEvent, ScanRecorded
from streams.settings import KafkaSettings
from streams.topics import Topics
from tests.integration.conftest import StackEndpoints
from tests.integration.modbus_harness import ModbusPeer, Unit
from tests.waiting import eventually_async

ROOT = Path(__file__).resolve().parents[2]
EDGE_STREAMS = ("tag-catalogue", "scans", "device-status", "heartbeats")


def plant_for(port: int, interval_s: float) -> dict[str, Any]:
    return {
        "plant_id": "plant-f",
        "devices": {"plc": {"host": "127.0.0.1", "port": port, "unit_id": 1,
                            "timeout_s": 0.5},
                    "chp": {"host": "127.0.0.1", "port": port, "unit_id": 2,
                            "timeout_s": 0.5}},
        "poll_groups": {"fast": {"interval_s": interval_s}},
        "tags": [{"name": f"plc.r{i}", "device": "plc", "register": "holding", "address": i,
                  "group": "fast"} for i in range(50)]
        + [{"name": "chp.p", "device": "chp", "register": "holding", "address": 0,
            "type": "f32", "group": "fast"}],
    }


def toml_for(doc: dict[str, Any]) -> str:
    import tomli_w
    return tomli_w.dumps(doc)


@pytest.fixture
async def peer() -> AsyncIterator[ModbusPeer]:
    server = ModbusPeer({1: Unit(), 2: Unit()})
    for i in range(50):
        server.units[1].holding[i] = i
    await server.start()
    yield server
    await server.stop()


class LogReader:
    """Reads the edge topics of one catalogue from the start and keeps every event."""

    def __init__(self, kafka: KafkaSettings, topics: Topics, group_id: str) -> None:
        self.consumer = AIOKafkaConsumer(
            *(topics.name(s) for s in EDGE_STREAMS), bootstrap_servers=kafka.bootstrap_servers,
            group_id=group_id, auto_offset_reset="earliest", enable_auto_commit=False)
        self.events: list[tuple[str, EdgeEvent]] = []

    async def __aenter__(self) -> LogReader:
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def pull(self) -> int:
        batches = await self.consumer.getmany(timeout_ms=500, max_records=20000)
        for tp, records in batches.items():
            for record in records:
                event = decode(record.value)
                assert isinstance(event, EdgeEvent)
                self.events.append((tp.topic, event))
        return len(self.events)

    def seqs(self, boot: str) -> dict[int, list[EdgeEvent]]:
        found: dict[int, list[EdgeEvent]] = defaultdict(list)
        for _, e in self.events:
            if str(e.edge_boot_id) == boot:
                found[e.seq].append(e)
        return found


def assert_complete(reader: LogReader, boot: str, upto: int) -> None:
    """Every seq 0..upto of the boot arrived; repeats are the very same event; each topic
    holds the boot's events in seq order (first deliveries)."""
    seqs = reader.seqs(boot)
    missing = sorted(set(range(upto + 1)) - set(seqs))
    assert not missing, f"boot {boot}: {len(missing)} missing, first {missing[:10]}"
    for seq, copies in seqs.items():
        assert len({c.event_id for c in copies}) == 1, f"seq {seq} differs between copies"
    for topic in {t for t, _ in reader.events}:
        seen: set[int] = set()
        order = []
        for t, e in reader.events:
            if t == topic and str(e.edge_boot_id) == boot and e.seq not in seen:
                seen.add(e.seq)
                order.append(e.seq)
        assert order == sorted(order), f"{topic}: out of order"


def settings_for(tmp_path: Path, kafka: KafkaSettings, topics: Topics,
                 **extra: Any) -> EdgeSettings:
    return EdgeSettings(journal=tmp_path / "journal.sqlite", metrics_port=0,
                        topic_prefix=topics.prefix, kafka=kafka, heartbeat_interval_s=1.0,
                        **extra)


async def test_every_event_arrives_in_order_and_the_journal_empties(
        stack: StackEndpoints, topics: Topics, group_id: str, peer: ModbusPeer,
        tmp_path: Path) -> None:
    plant = PlantConfig.model_validate(plant_for(peer.port, 0.05))
    runtime = EdgeRuntime(plant, settings_for(tmp_path, stack.kafka, topics))
    await runtime.start()
    try:
        async def forwarded_enough() -> bool:
            return runtime.forwarder.forwarded >= 150

        await eventually_async(forwarded_enough, timeout=60)
    finally:
        await runtime.stop()
    assert runtime.journal.stats().depth == 0
    last = runtime.journal.next_seq() - 1
    async with LogReader(stack.kafka, topics, group_id) as reader:
        async def all_there() -> bool:
            await reader.pull()
            return len(reader.seqs(str(runtime.boot_id))) == last + 1

        await eventually_async(all_there, timeout=60)
    assert_complete(reader, str(runtime.boot_id), last)
    scans = [e for _, e in reader.events if isinstance(e, ScanRecorded)]
    assert {len(s.readings) for s in scans if s.device == "plc"} == {50}
    assert all(r.value == int(r.tag.removeprefix("plc.r"))
               for s in scans if s.device == "plc" for r in s.readings)


@pytest.mark.slow
async def test_broker_outage_of_a_minute_loses_nothing(peer: ModbusPeer, group_id: str,
                                                       tmp_path: Path) -> None:
    stack_settings = StackSettings()
    lib = await asyncio.to_thread(ensure_kafka_jars, stack_settings.cache_dir,
                                  stack_settings.kafka_version)
    home = Path(tempfile.mkdtemp(prefix="edge-outage-kafka-"))
    ports = (free_port(), free_port())
    server = await asyncio.to_thread(start_kafka, home, lib, "384m", 90.0, ports)
    try:
        kafka = KafkaSettings(bootstrap_servers=server.bootstrap_servers)
        topics = Topics(prefix="edge-outage.")
        await ensure_topics(kafka, topics)
        plant = PlantConfig.model_validate(plant_for(peer.port, 0.1))
        runtime = EdgeRuntime(plant, settings_for(tmp_path, kafka, topics,
                                                  forward_timeout_s=5.0))
        await runtime.start()
        try:
            async def flowing() -> bool:
                return runtime.forwarder.forwarded >= 30

            await eventually_async(flowing, timeout=60)
            assert await asyncio.to_thread(server.process.terminate, 30)
            down_at = time.monotonic()

            async def backlog_a_minute_old() -> bool:
                age = runtime.journal.stats().oldest_age_s
                return age is not None and age >= 61

            await eventually_async(backlog_a_minute_old, timeout=120, interval=0.5)
            backlog = runtime.journal.stats().depth
            assert backlog >= 2 * 60 * 10 * 0.9, backlog  # two devices kept polling at 10 Hz
            server = await asyncio.to_thread(start_kafka, home, lib, "384m", 90.0, ports)
            outage_s = time.monotonic() - down_at
            assert server.bootstrap_servers == kafka.bootstrap_servers

            async def drained() -> bool:
                return runtime.journal.stats().depth < 50

            drain_started = time.monotonic()
            await eventually_async(drained, timeout=90, interval=0.2)
            drain_s = time.monotonic() - drain_started
        finally:
            await runtime.stop()
        assert runtime.journal.stats().depth == 0
        last = runtime.journal.next_seq() - 1
        async with LogReader(kafka, topics, group_id) as reader:
            async def all_there() -> bool:
                await reader.pull()
                return len(reader.seqs(str(runtime.boot_id))) == last + 1

            await eventually_async(all_there, timeout=60)
        assert_complete(reader, str(runtime.boot_id), last)
        assert outage_s >= 60
        # polling went on through the outage and the drain: no hole in the source times
        plc = sorted({e.seq: e for _, e in reader.events
                      if isinstance(e, ScanRecorded) and e.device == "plc"}.items())
        times = [e.source_ts.timestamp() for _, e in plc]
        assert times[-1] - times[0] >= outage_s
        assert max(b - a for a, b in itertools.pairwise(times)) < 2.0
        sys.stderr.write(f"outage {outage_s:.0f} s, backlog {backlog} events drained in "
                         f"{drain_s:.1f} s\n")
    finally:
        await asyncio.to_thread(server.process.terminate, 30)
        shutil.rmtree(home, ignore_errors=True)


async def test_kill_9_of_the_producer_while_forwarding_loses_nothing(
        stack: StackEndpoints, topics: Topics, group_id: str, peer: ModbusPeer,
        tmp_path: Path) -> None:
    config = tmp_path / "plant.toml"
    config.write_text(toml_for(plant_for(peer.port, 0.02)))
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "BIOGAS_KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
           "BIOGAS_EDGE_JOURNAL": str(tmp_path / "journal.sqlite"),
           "BIOGAS_TOPIC_PREFIX": topics.prefix, "BIOGAS_EDGE_METRICS_PORT": "0",
           "BIOGAS_EDGE_HEARTBEAT_INTERVAL_S": "1", "BIOGAS_LOG_LEVEL": "warning",
           "PYTHONFAULTHANDLER": "1"}
    command = [sys.executable, "-c", "from cli.edge_cmd import edge_app; edge_app()", "run",
               "--config", str(config)]
    stderr = tmp_path / "edge.stderr"

    async def start() -> asyncio.subprocess.Process:
        with stderr.open("ab") as err:
            return await asyncio.create_subprocess_exec(*command, env=env, cwd=ROOT,
                                                        stdout=asyncio.subprocess.DEVNULL,
                                                        stderr=err)

    async def stopped_within(proc: asyncio.subprocess.Process, seconds: float) -> int:
        """Its exit code; when it hangs, SIGABRT makes faulthandler print every thread's
        stack into the failure message."""
        try:
            return await asyncio.wait_for(proc.wait(), seconds)
        except TimeoutError:
            proc.send_signal(signal.SIGABRT)
            await proc.wait()
            pytest.fail(f"the edge producer did not stop within {seconds:.0f} s of SIGTERM; "
                        f"its stderr:\n{stderr.read_text(errors='replace')[-6000:]}")

    first = await start()
    second: asyncio.subprocess.Process | None = None
    try:
        async with LogReader(stack.kafka, topics, group_id) as reader:
            async def forwarding() -> bool:
                return await reader.pull() >= 200

            await eventually_async(forwarding, timeout=60)
            first.send_signal(signal.SIGKILL)
            assert await first.wait() == -signal.SIGKILL
            boots = {str(e.edge_boot_id) for _, e in reader.events}
            assert len(boots) == 1
            (boot1,) = boots
            second = await start()

            async def second_boot_forwarding() -> bool:
                await reader.pull()
                return len({str(e.edge_boot_id) for _, e in reader.events}) == 2

            await eventually_async(second_boot_forwarding, timeout=60)
            second.send_signal(signal.SIGTERM)
            assert await stopped_within(second, 30) == 0
            (boot2,) = {str(e.edge_boot_id) for _, e in reader.events} - {boot1}

            async def settled() -> bool:
                before = len(reader.events)
                await reader.pull()
                return len(reader.events) == before

            await eventually_async(settled, timeout=30)
    finally:
        for proc in (first, second):
            if proc is not None and proc.returncode is None:
                proc.kill()
                await proc.wait()
    # boot 1 died at an arbitrary instant: what it committed is a prefix, all of it arrived
    assert_complete(reader, boot1, max(reader.seqs(boot1)))
    # boot 2 stopped cleanly: everything, including its last heartbeat
    assert_complete(reader, boot2, max(reader.seqs(boot2)))
