"""Projection write throughput on the real database, side by side in one run:

1. readings by binary COPY into the partitioned readings table with its indexes in place,
2. the baseline: the same rows with a plain ``executemany`` INSERT,
3. the whole apply path of the projector (decode, dedupe, readings, rollups, latest values,
   ledger, offsets in one transaction per batch) from encoded ScanRecorded events.

    BIOGAS_DATABASE_URL=postgresql://... .venv/bin/python benchmarks/projections_write.py \\
        [--rows 1000000] [--baseline-rows 100000] [--tags 20]

Uses a schema of its own (dropped at the end).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg

from projections.db import open_connection
from projections.migrate import apply_migrations
from projections.rows import READING_COLUMNS, ReadingRow
from projections.store import ProjectionStore, RawMessage
from projections.values import series_id
from projections.writers import copy_readings, ensure_partitions, readings_days
from streams.codec import encode
from streams.events import Quality, Reading, ScanRecorded
from streams.settings import DatabaseSettings

START = datetime(2026, 1, 1, tzinfo=UTC)


def reading_rows(n: int, tags: int, plant: str) -> list[ReadingRow]:
    rng = random.Random(1)  # noqa: S311 - test data
    names = [f"tag.{i:03d}" for i in range(tags)]
    rows: list[ReadingRow] = []
    for i in range(n):
        ts = START + timedelta(seconds=i // tags)
        rows.append((series_id(plant, names[i % tags]), ts, rng.uniform(0, 500), None, "good"))
    return rows


def scans(n_readings: int, tags: int, plant: str) -> list[bytes]:
    rng = random.Random(2)  # noqa: S311 - test data
    boot = uuid.uuid4()
    out = []
    for seq in range(n_readings // tags):
        readings = tuple(Reading(tag=f"tag.{t:03d}", value=rng.uniform(0, 500),
                                 quality=Quality.GOOD) for t in range(tags))
        out.append(encode(ScanRecorded(plant_id=plant, edge_boot_id=boot, seq=seq,
                                       device="plc1", poll_group="fast",
                                       source_ts=START + timedelta(seconds=seq),
                                       readings=readings)))
    return out


def timed_copy(settings: DatabaseSettings, rows: list[ReadingRow], batch: int) -> float:
    with open_connection(settings) as conn:
        ensure_partitions(conn, "p1", readings_days(rows))
        t0 = time.perf_counter()
        for i in range(0, len(rows), batch):
            with conn.transaction():
                copy_readings(conn, "p1", rows[i:i + batch])
        return time.perf_counter() - t0


def timed_executemany(settings: DatabaseSettings, rows: list[ReadingRow], batch: int) -> float:
    cols = ", ".join(READING_COLUMNS)
    with open_connection(settings) as conn:
        ensure_partitions(conn, "p1", readings_days(rows))
        t0 = time.perf_counter()
        for i in range(0, len(rows), batch):
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(f"INSERT INTO p1_readings ({cols}) "
                                "VALUES (%s, %s, %s, %s, %s)", rows[i:i + batch])
        return time.perf_counter() - t0


def timed_apply(settings: DatabaseSettings, payloads: list[bytes], batch: int) -> float:
    store = ProjectionStore(settings)
    messages = [RawMessage("bench", 0, i, p) for i, p in enumerate(payloads)]
    expected: dict[tuple[str, int], int | None] = {("bench", 0): None}
    t0 = time.perf_counter()
    try:
        for i in range(0, len(messages), batch):
            outcome = store.apply("p1", messages[i:i + batch], expected, must_be_live=True)
            expected.update(outcome.positions)  # type: ignore[union-attr]
    finally:
        store.close()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--baseline-rows", type=int, default=100_000)
    parser.add_argument("--apply-readings", type=int, default=400_000)
    parser.add_argument("--tags", type=int, default=20)
    parser.add_argument("--batch", type=int, default=50_000, help="rows per transaction")
    args = parser.parse_args()
    base = DatabaseSettings()
    settings = DatabaseSettings(url=base.url, schema_name=f"bench_{uuid.uuid4().hex[:8]}")
    apply_migrations(settings)
    try:
        rows = reading_rows(args.rows, args.tags, "plant-copy")
        copy_s = timed_copy(settings, rows, args.batch)
        baseline = reading_rows(args.baseline_rows, args.tags, "plant-insert")
        insert_s = timed_executemany(settings, baseline, args.batch)
        payloads = scans(args.apply_readings, args.tags, "plant-apply")
        apply_s = timed_apply(settings, payloads, max(1, args.batch // args.tags))
    finally:
        with psycopg.connect(base.url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{settings.schema_name}" CASCADE')
    copy_rate, insert_rate = args.rows / copy_s, args.baseline_rows / insert_s
    n = len(payloads) * args.tags
    sys.stdout.write(
        f"binary COPY, indexes in place : {args.rows:>9,} rows in {copy_s:6.2f} s = "
        f"{copy_rate:>10,.0f} rows/s\n"
        f"executemany INSERT (baseline) : {args.baseline_rows:>9,} rows in {insert_s:6.2f} s = "
        f"{insert_rate:>10,.0f} rows/s\n"
        f"speed-up COPY / executemany   : {copy_rate / insert_rate:.1f}x\n"
        f"projector apply path          : {n:>9,} readings in {apply_s:6.2f} s = "
        f"{n / apply_s:>10,.0f} readings/s ({len(payloads):,} scans of {args.tags} tags)\n")

if __name__ == "__main__":
    main()
