"""Rebuild-by-replay throughput on the real broker and database, side by side in one run:

1. baseline: consuming the scans topic only (no decoding, no database),
2. baseline: decoding the same messages only (the event contract's validation),
3. ``Rebuild``: replay into a new projection version (decoding and rows in worker processes;
   rollups, latest values, ledger, binary COPY, offsets), then the comparison and the swap.

    BIOGAS_KAFKA_BOOTSTRAP_SERVERS=... BIOGAS_DATABASE_URL=... \\
        .venv/bin/python benchmarks/projections_rebuild.py [--readings 1000000] [--tags 20]

Uses topics and a schema of its own (deleted at the end).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from logio.topic_admin import delete_topics, ensure_topics
from ops.gc_tuning import tune_for_streaming
from projections.migrate import apply_migrations
from projections.rebuild import Rebuild
from projections.settings import ProjectorSettings
from projections.store import RawMessage, decode_batch
from streams.codec import encode
from streams.events import Quality, Reading, ScanRecorded
from streams.settings import DatabaseSettings, KafkaSettings
from streams.topics import Topics

START = datetime(2026, 1, 1, tzinfo=UTC)


def scan_payloads(readings: int, tags: int, plants: int) -> list[tuple[bytes, bytes]]:
    rng = random.Random(3)  # noqa: S311 - test data
    boots = [uuid.uuid4() for _ in range(plants)]
    out = []
    for i in range(readings // tags):
        plant = i % plants
        values = tuple(Reading(tag=f"tag.{t:03d}", value=rng.uniform(0, 500),
                               quality=Quality.GOOD) for t in range(tags))
        event = ScanRecorded(plant_id=f"plant-{plant}", edge_boot_id=boots[plant],
                             seq=i // plants, device="plc1", poll_group="fast",
                             source_ts=START + timedelta(seconds=i // plants),
                             readings=values)
        out.append((event.plant_id.encode(), encode(event)))
    return out


async def produce(kafka: KafkaSettings, topic: str, payloads: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, linger_ms=20,
                                max_batch_size=512 * 1024, enable_idempotence=True)
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for key, value in payloads]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def consume_only(kafka: KafkaSettings, topic: str, partitions: int,
                       expected: int) -> tuple[float, list[RawMessage]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                max_partition_fetch_bytes=8 * 1024 * 1024)
    await consumer.start()
    got: list[RawMessage] = []
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        t0 = time.perf_counter()
        while len(got) < expected:
            records = await consumer.getmany(timeout_ms=200, max_records=5000)
            got.extend(RawMessage(tp.topic, tp.partition, r.offset, r.value)
                       for tp, batch in records.items() for r in batch)
        return time.perf_counter() - t0, got
    finally:
        await consumer.stop()


async def run(args: argparse.Namespace) -> None:
    kafka, base = KafkaSettings(), DatabaseSettings()
    token = uuid.uuid4().hex[:8]
    topics = Topics(prefix=f"bench{token}.")
    database = DatabaseSettings(url=base.url, schema_name=f"bench_{token}")
    payloads = scan_payloads(args.readings, args.tags, args.plants)
    n = len(payloads) * args.tags
    await ensure_topics(kafka, topics)
    try:
        await produce(kafka, topics.name("scans"), payloads)
        apply_migrations(database)
        consume_s, messages = await consume_only(kafka, topics.name("scans"),
                                                 topics["scans"].partitions, len(payloads))
        tune_for_streaming()  # as `biogas projections rebuild` and its workers do
        t0 = time.perf_counter()
        decode_batch(messages)
        decode_s = time.perf_counter() - t0
        settings = ProjectorSettings(kafka=kafka, database=database,
                                     topic_prefix=topics.prefix,
                                     batch_max_messages=args.batch)
        report = await Rebuild(settings, asyncio.Event()).run()
    finally:
        await delete_topics(kafka, topics.names())
        with psycopg.connect(base.url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{database.schema_name}" CASCADE')
    sys.stdout.write(
        f"{len(payloads):,} scans x {args.tags} tags = {n:,} readings, {args.plants} plants\n"
        f"consume only (baseline)  : {consume_s:6.2f} s = {n / consume_s:>10,.0f} readings/s\n"
        f"decode only (baseline)   : {decode_s:6.2f} s = {n / decode_s:>10,.0f} readings/s\n"
        f"rebuild (replay + write) : {report.seconds:6.2f} s = "
        f"{report.readings_per_s:>10,.0f} readings/s ({report.readings:,} readings)\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--tags", type=int, default=20)
    parser.add_argument("--plants", type=int, default=6)
    parser.add_argument("--batch", type=int, default=2500, help="messages per transaction")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
