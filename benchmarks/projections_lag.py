"""Projection lag under a steady load, on the real broker and database.

A paced producer appends ScanRecorded events at ``--rate`` readings/s (``--tags`` readings per
scan) for ``--seconds``; ``python -m projections`` (``biogas projections run``) projects them in a
child process. Lag of a
message = when the projector's committed offsets (read from the database every 20 ms) first
cover it, minus when it was appended. Baseline, side by side in the same run: the delivery lag
of a plain consumer reading the same topic (the broker's share of the lag).

    BIOGAS_KAFKA_BOOTSTRAP_SERVERS=... BIOGAS_DATABASE_URL=... \\
        .venv/bin/python benchmarks/projections_lag.py [--rate 20000] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from logio.topic_admin import delete_topics, ensure_topics
from projections.migrate import apply_migrations
from streams.codec import encode
from streams.events import Quality, Reading, ScanRecorded
from streams.settings import DatabaseSettings, KafkaSettings
from streams.topics import Topics

Sent = dict[tuple[int, int], float]  # (partition, offset) -> when appended (monotonic)
Pending = dict[int, list[int]]  # partition -> offsets appended, in order


def payloads(args: argparse.Namespace) -> list[tuple[bytes, bytes]]:
    """Every scan of the run, encoded before the clock starts (the load, not its making)."""
    rng = random.Random(4)  # noqa: S311 - test data
    boots = [uuid.uuid4() for _ in range(args.plants)]
    start = datetime.now(UTC)
    out = []
    for seq in range(int(args.rate / args.tags * args.seconds)):
        plant = seq % args.plants
        event = ScanRecorded(
            plant_id=f"plant-{plant}", edge_boot_id=boots[plant], seq=seq // args.plants,
            device="plc1", poll_group="fast",
            source_ts=start + timedelta(seconds=seq * args.tags / args.rate),
            readings=tuple(Reading(tag=f"tag.{t:03d}", value=rng.uniform(0, 500),
                                   quality=Quality.GOOD) for t in range(args.tags)))
        out.append((event.plant_id.encode(), encode(event)))
    return out


async def paced_producer(kafka: KafkaSettings, topic: str, args: argparse.Namespace,
                         sent: Sent, pending_offsets: Pending) -> None:
    load = payloads(args)
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, linger_ms=2,
                                enable_idempotence=True)
    await producer.start()
    scans_per_s = args.rate / args.tags
    try:
        start, seq, pending = time.monotonic(), 0, []
        while seq < len(load):
            due = min(len(load), int((time.monotonic() - start) * scans_per_s))
            while seq < due:
                key, value = load[seq]
                pending.append((await producer.send(topic, value, key=key), time.monotonic()))
                seq += 1
            for future, appended in pending:
                meta = await future
                sent[(meta.partition, meta.offset)] = appended
                pending_offsets.setdefault(meta.partition, []).append(meta.offset)
            pending.clear()
            await asyncio.sleep(0.01)  # pacing the load, not waiting for a condition
    finally:
        await producer.stop()


async def watch_offsets(database: DatabaseSettings, topic: str, pending_offsets: Pending,
                        seen: dict[tuple[int, int], float], done: asyncio.Event) -> None:
    done_upto: dict[int, int] = {}
    with psycopg.connect(database.url, autocommit=True) as conn:
        while not done.is_set():
            rows = conn.execute(
                f'SELECT partition, next_offset FROM "{database.schema_name}".projection_offsets '
                "WHERE topic = %s", (topic,)).fetchall()
            now = time.monotonic()
            for partition, next_offset in rows:
                offsets = pending_offsets.get(partition, [])
                i = done_upto.get(partition, 0)
                while i < len(offsets) and offsets[i] < next_offset:
                    seen[(partition, offsets[i])] = now
                    i += 1
                done_upto[partition] = i
            await asyncio.sleep(0.02)


async def plain_consumer(kafka: KafkaSettings, topic: str, partitions: int,
                         seen: dict[tuple[int, int], float], done: asyncio.Event) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        while not done.is_set():
            records = await consumer.getmany(timeout_ms=50)
            now = time.monotonic()
            for tp, batch in records.items():
                for record in batch:
                    seen[(tp.partition, record.offset)] = now
    finally:
        await consumer.stop()


def percentiles(sent: Sent, seen: dict[tuple[int, int], float]) -> str:
    lags = np.array([seen[k] - t for k, t in sent.items() if k in seen])
    if not len(lags):
        return "no message seen"
    p50, p99, worst = np.percentile(lags, [50, 99, 100])
    return (f"p50 {p50 * 1000:7.0f} ms  p99 {p99 * 1000:7.0f} ms  max {worst * 1000:7.0f} ms  "
            f"({len(lags):,}/{len(sent):,} messages)")


async def run(args: argparse.Namespace) -> None:
    kafka, base = KafkaSettings(), DatabaseSettings()
    token = uuid.uuid4().hex[:8]
    topics = Topics(prefix=f"lag{token}.")
    database = DatabaseSettings(url=base.url, schema_name=f"lag_{token}")
    topic = topics.name("scans")
    await ensure_topics(kafka, topics)
    apply_migrations(database)
    env = dict(os.environ, BIOGAS_DATABASE_SCHEMA_NAME=database.schema_name,
               BIOGAS_TOPIC_PREFIX=topics.prefix,
               BIOGAS_PROJECTOR_GROUP_ID=f"lag{token}", BIOGAS_LOG_FORMAT="json",
               BIOGAS_PROJECTOR_METRICS_PORT="0",
               BIOGAS_LOG_LEVEL=os.environ.get("BIOGAS_LOG_LEVEL", "warning"))
    proc = await asyncio.to_thread(
        subprocess.Popen, [sys.executable, "-m", "projections"], env=env)
    sent: Sent = {}
    pending_offsets: Pending = {}
    projected: dict[tuple[int, int], float] = {}
    delivered: dict[tuple[int, int], float] = {}
    done = asyncio.Event()
    try:
        watchers = [
            asyncio.create_task(watch_offsets(database, topic, pending_offsets, projected, done)),
            asyncio.create_task(plain_consumer(kafka, topic, topics["scans"].partitions,
                                               delivered, done))]
        await paced_producer(kafka, topic, args, sent, pending_offsets)
        deadline = time.monotonic() + 30
        while len(projected) < len(sent) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        done.set()
        await asyncio.gather(*watchers)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        await delete_topics(kafka, topics.names())
        with psycopg.connect(base.url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{database.schema_name}" CASCADE')
    sys.stdout.write(
        f"{args.rate:,} readings/s ({args.rate // args.tags:,} scans/s of {args.tags} tags, "
        f"{args.plants} plants) for {args.seconds} s\n"
        f"plain consumer delivery lag (baseline): {percentiles(sent, delivered)}\n"
        f"projection lag (offsets committed)    : {percentiles(sent, projected)}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=20_000, help="readings per second")
    parser.add_argument("--tags", type=int, default=20)
    parser.add_argument("--plants", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=30)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
