"""Query API latency on the real database, through the whole app (auth, query, JSON):

1. 24 h of 1 s data of one tag bucketed to 1,440 points (served from the 1-minute rollup),
   beside its baseline: the same buckets computed from the raw readings;
2. the latest values of a plant (every tag), beside its baseline: the bare SQL query.

The database holds ``--days`` of 1 s data for ``--tags`` tags (7 days x 20 tags = 12.1 million
readings), generated server-side into a schema of its own (dropped at the end; ``--keep``
keeps it for another run with ``--schema``). Prints p50/p99 per query.

    BIOGAS_DATABASE_URL=postgresql://... .venv/bin/python benchmarks/api_queries.py \\
        [--days 7] [--tags 20] [--runs 300]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
import psycopg

from api.app import create_app
from api.params import TimeRange
from api.readings_query import BucketPlan, bucketed
from api.settings import ApiSettings
from api.tokens import Role, issue_token
from projections.migrate import apply_migrations
from projections.values import series_id
from streams.settings import DatabaseSettings, KafkaSettings

PLANT = "bench"
START = datetime(2026, 1, 1, tzinfo=UTC)
SECRET = "benchmark-secret-" + "x" * 32


def say(text: str, *, err: bool = False) -> None:
    (sys.stderr if err else sys.stdout).write(text + "\n")


def fill(conn: psycopg.Connection, days: int, tags: int) -> None:
    names = [f"tag.{i:02d}" for i in range(tags)]
    conn.cursor().executemany("INSERT INTO p1_series VALUES (%s, %s, %s)",
                     [(series_id(PLANT, n), PLANT, n) for n in names])
    conn.cursor().executemany("INSERT INTO p1_tag_sources VALUES (%s, %s, 'plc', 'fast')",
                     [(PLANT, n) for n in names])
    for day in range(days):
        t0 = time.perf_counter()
        date = (START + timedelta(days=day)).date()
        conn.execute("SELECT create_readings_partition('p1', %s)", (date,))
        conn.execute(
            "INSERT INTO p1_readings (series_id, time, value, quality) "
            "SELECT s.series_id, %s::timestamptz + make_interval(secs => g), "
            "       100 + 10 * sin(g / 600.0) + random(), 'good' "
            "FROM p1_series s CROSS JOIN generate_series(0, 86399) g",
            (START + timedelta(days=day),))
        say(f"  day {day + 1}/{days}: {tags * 86400:,} readings in "
            f"{time.perf_counter() - t0:.1f} s", err=True)
    t0 = time.perf_counter()
    conn.execute("""
INSERT INTO p1_rollup_1m SELECT s.plant_id, s.tag, date_bin('1 minute', r.time, %s),
       count(*), count(*) FILTER (WHERE quality <> 'good'), count(value), min(value), max(value),
       sum(value::numeric), max(time), (array_agg(value ORDER BY time DESC))[1]
FROM p1_readings r JOIN p1_series s USING (series_id) GROUP BY 1, 2, 3""", (START,))
    conn.execute("""
INSERT INTO p1_rollup_1h SELECT plant_id, tag, date_bin('1 hour', bucket, %s), sum(sample_count),
       sum(bad_count), sum(value_count), min(value_min), max(value_max), sum(value_sum),
       max(last_time), (array_agg(value_last ORDER BY last_time DESC))[1]
FROM p1_rollup_1m GROUP BY 1, 2, 3""", (START,))
    conn.execute("""
INSERT INTO p1_latest_readings SELECT DISTINCT ON (s.plant_id, s.tag) s.plant_id, s.tag, r.time,
       r.value, r.value_text, r.quality, gen_random_uuid(), 0
FROM p1_readings r JOIN p1_series s USING (series_id)
WHERE r.time >= %s ORDER BY s.plant_id, s.tag, r.time DESC""",
                 (START + timedelta(days=days) - timedelta(minutes=1),))
    conn.execute("ANALYZE")
    say(f"  rollups and latest values in {time.perf_counter() - t0:.1f} s", err=True)


async def measure(name: str, call: Callable[[], Awaitable[object]], runs: int) -> None:
    for _ in range(10):
        await call()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    say(f"{name:<58} p50 {statistics.median(samples):7.2f} ms   p99 {p99:7.2f} ms")


async def run(database: DatabaseSettings, runs: int, days: int) -> None:
    settings = ApiSettings(token_secret=SECRET, database=database,  # type: ignore[arg-type]
                           kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"))
    app = create_app(settings)
    headers = {"Authorization": "Bearer " + issue_token(SECRET, "bench", Role.OWNER, ("*",),
                                                         timedelta(hours=1))}
    day_start = START + timedelta(days=days - 1)
    params: dict[str, str | int] = {"tag": "tag.00", "start": day_start.isoformat(),
              "end": (day_start + timedelta(days=1)).isoformat(), "max_points": 1440}
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        first = await client.get(f"/plants/{PLANT}/readings", params=params, headers=headers)
        body = first.json()
        assert first.status_code == 200 and body["source"] == "rollup_1m", first.text
        assert len(body["series"][0]["points"]) == 1440

        async def readings() -> None:
            r = await client.get(f"/plants/{PLANT}/readings", params=params, headers=headers)
            assert r.status_code == 200

        async def latest() -> None:
            r = await client.get(f"/plants/{PLANT}/latest", headers=headers)
            assert r.status_code == 200

        db = app.state.db
        span = TimeRange(day_start, day_start + timedelta(days=1))
        raw_plan = BucketPlan(60, "readings", day_start)

        async def readings_raw() -> None:
            await bucketed(db, PLANT, ["tag.00"], span, raw_plan)

        async def latest_sql() -> None:
            await db.fetch_all("SELECT tag, time, value, value_text, quality FROM "
                               "latest_readings WHERE plant_id = %s ORDER BY tag", (PLANT,))

        await measure("readings 24 h -> 1440 buckets, API (rollup_1m)", readings, runs)
        await measure("  baseline: same buckets from raw readings, SQL only", readings_raw,
                      max(20, runs // 10))
        await measure("latest values of the plant, API", latest, runs)
        await measure("  baseline: the bare SQL query", latest_sql, runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--tags", type=int, default=20)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--schema", help="reuse a schema filled by an earlier --keep run")
    parser.add_argument("--keep", action="store_true", help="keep the schema")
    args = parser.parse_args()
    base = DatabaseSettings()
    schema = args.schema or f"bench_api_{uuid.uuid4().hex[:8]}"
    database = DatabaseSettings(url=base.url, schema_name=schema)
    try:
        if not args.schema:
            apply_migrations(database)
            say(f"filling {schema}: {args.days} days x {args.tags} tags of 1 s data", err=True)
            with psycopg.connect(base.url, autocommit=True) as conn:
                conn.execute(f'SET search_path TO "{schema}", public')
                fill(conn, args.days, args.tags)
        with psycopg.connect(base.url) as conn:
            count = conn.execute(f'SELECT count(*) FROM "{schema}".readings').fetchone()
        say(f"readings in the database: {count[0] if count else 0:,}")
        asyncio.run(run(database, args.runs, args.days))
    finally:
        if not args.keep:
            with psycopg.connect(base.url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        else:
            say(f"kept schema {schema} (rerun with --schema {schema})", err=True)


if __name__ == "__main__":
    main()
