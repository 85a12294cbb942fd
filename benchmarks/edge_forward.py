"""Edge forwarding to the local broker: a journal full of 50-reading scans drained by the
forwarder (idempotent producer, acks=all, gzip), against a baseline that sends the same bytes
with a bare producer and no journal. Needs BIOGAS_KAFKA_BOOTSTRAP_SERVERS (``biogas stack up``).

    .venv/bin/python -m benchmarks.edge_forward [--scans 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaProducer

from benchmarks.edge_journal import READINGS, scans
from edge_producer.config import JournalPolicy
from edge_producer.forwarder import Forwarder
from edge_producer.journal import Journal
from edge_producer.metrics import EdgeMetrics
from logio.topic_admin import delete_topics, ensure_topics
from streams.codec import encode
from streams.logsetup import configure_logging
from streams.settings import KafkaSettings, LogSettings
from streams.topics import Topics


async def baseline(kafka: KafkaSettings, topic: str, payloads: list[bytes]) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers,
                                enable_idempotence=True, acks="all", compression_type="gzip",
                                linger_ms=5, max_batch_size=512 * 1024)
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [await producer.send(topic, p, key=b"bench") for p in payloads]
        await asyncio.gather(*futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def forwarded(kafka: KafkaSettings, topics: Topics, path: Path, n: int) -> float:
    journal = Journal(path, "bench", uuid.uuid4(), JournalPolicy(), EdgeMetrics(),
                      durable=True)
    await journal.open()
    events = scans(journal, n)
    for i in range(0, n, 1000):
        await asyncio.gather(*(journal.append_nowait(e) for e in events[i:i + 1000]))
    forwarder = Forwarder(journal, kafka, topics, EdgeMetrics())
    started = time.perf_counter()
    task = asyncio.create_task(forwarder.run())
    try:
        if not await journal.wait_empty(600):
            raise SystemExit("the forwarder did not drain the journal within 600 s")
        return time.perf_counter() - started
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await journal.close()


async def main_async(n: int) -> None:
    kafka = KafkaSettings()
    topics = Topics(prefix=f"bench{uuid.uuid4().hex[:8]}.")
    await ensure_topics(kafka, topics)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            journal = Journal(Path(tmp) / "x.sqlite", "bench", uuid.uuid4(), JournalPolicy(),
                              EdgeMetrics())
            payloads = [encode(e) for e in scans(journal, n)]
            base_s = await baseline(kafka, topics.name("scans"), payloads)
            fwd_s = await forwarded(kafka, topics, Path(tmp) / "j.sqlite", n)
    finally:
        await delete_topics(kafka, topics.names())
    readings = n * READINGS
    sys.stdout.write(
        f"baseline  bare idempotent producer, no journal: {n} scans x {READINGS} readings in "
        f"{base_s:.2f} s = {readings / base_s:,.0f} readings/s\n"
        f"forwarder journal -> broker, acked then deleted: {n} scans in {fwd_s:.2f} s = "
        f"{readings / fwd_s:,.0f} readings/s (target >= 100,000)\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scans", type=int, default=20000)
    args = ap.parse_args()
    configure_logging(LogSettings(level="warning"))
    asyncio.run(main_async(args.scans))


if __name__ == "__main__":
    main()
