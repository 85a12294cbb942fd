"""The projector on the real broker and database: killed with SIGKILL at random points while
events flow, and across a database restart, every event affects the tables exactly once; the
tables equal, row for row, what a clean rebuild by replay produces."""

from __future__ import annotations

import asyncio
import random
import shutil
import signal
import tempfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import psycopg
import pytest

from projections.migrate import apply_migrations
from projections.rebuild import Rebuild
from projections.settings import ProjectorSettings
from stack.postgres import start_postgres, stop_postgres
from stack.settings import StackSettings
from streams.events import EventBase, ScanRecorded
from streams.settings import DatabaseSettings
from streams.topics import Topics
from tests.integration.conftest import StackEndpoints
from tests.integration.projections_harness import (
    interleave,
    plant_events,
    produce,
    projector_env,
    projector_process,
    query,
    readings_in,
    stored_offsets,
)
from tests.waiting import eventually_async

KILLS = 10


def _settings(stack: StackEndpoints, database: DatabaseSettings, topics: Topics,
              group: str) -> ProjectorSettings:
    return ProjectorSettings(kafka=stack.kafka, database=database, topic_prefix=topics.prefix,
                             group_id=group)


async def _assert_equal_to_rebuild(stack: StackEndpoints, database: DatabaseSettings,
                                   topics: Topics, group: str) -> None:
    report = await Rebuild(_settings(stack, database, topics, group), asyncio.Event(),
                           keep_old=True).run()
    assert report.offsets_equal, "the rebuild must have consumed exactly the same offsets"
    differing = {c.table: (c.old_rows, c.new_rows, c.differing_rows)
                 for c in report.comparison if not c.same or c.differing_rows != 0}
    assert not differing, f"projected tables differ from a clean rebuild: {differing}"
    assert {c.table for c in report.comparison} >= {"readings", "rollup_1m", "alerts"}


def _assert_projected(database: DatabaseSettings, events: list[EventBase],
                      duplicates: int) -> None:
    expected_readings = readings_in(events)
    assert query(database, "SELECT count(*) FROM readings") == [(expected_readings,)]
    for table in ("rollup_1m", "rollup_1h"):
        assert query(database, f"SELECT sum(sample_count) FROM {table}") == [
            (expected_readings,)]
    ledger = query(database, "SELECT sum(duplicate_count), sum(missing_count), "
                             "sum(received_count) FROM delivery_ledger")
    edge = sum(1 for e in events if hasattr(e, "seq"))
    assert ledger == [(duplicates, 0, edge)]
    plants = {e.plant_id for e in events if isinstance(e, ScanRecorded)}
    alerts = query(database, "SELECT state, severity, anomaly_count FROM alerts")
    assert sorted(alerts) == [("cleared", "critical", 3)] * len(plants)
    assert query(database, "SELECT count(*) FROM rejected_messages") == [(0,)]
    assert query(database, "SELECT count(*) > 0 FROM readings WHERE value_text = %s",
                 "fault\ufffdcode") == [(True,)]
    # A scan every 5 s: 12 per minute, late (backfilled) scans included, 720 expected per hour.
    assert query(database, "SELECT count(*) FROM rollup_1m WHERE sample_count <> 12 "
                           "AND bucket < (SELECT max(bucket) FROM rollup_1m)") == [(0,)]
    assert query(database, "SELECT DISTINCT median_interval_ms FROM poll_group_intervals"
                 ) == [(5000,)]
    assert query(database, "SELECT DISTINCT expected_count, sum(received_count) "
                           "FROM completeness_hourly GROUP BY 1") == [(720, expected_readings)]


async def test_kill_9_at_random_points_projects_every_event_once(
        stack: StackEndpoints, topics: Topics, database: DatabaseSettings, group_id: str,
        tmp_path: Path) -> None:
    events = interleave(*(plant_events(f"plant-{i}", 300, seed=i) for i in range(3)))
    duplicate = next(e for e in events[40:] if isinstance(e, ScanRecorded))
    size = -(-len(events) // (KILLS + 1))
    chunks = [events[i * size:(i + 1) * size] for i in range(KILLS + 1)]
    chunks[3] = [*chunks[3], duplicate]  # the same event appended twice to the log
    sent = sum(len(c) for c in chunks)
    env = projector_env(stack.bootstrap_servers, database, topics, group_id,
                        BIOGAS_PROJECTOR_BATCH_MAX_MESSAGES="40")
    rng = random.Random()
    log_file = tmp_path / "projector.log"
    watcher: psycopg.Connection = await asyncio.to_thread(_watcher, database)
    try:
        for cycle, chunk in enumerate(chunks[:KILLS]):
            producing = asyncio.create_task(produce(stack.bootstrap_servers, topics, chunk))
            before = sum(stored_offsets(database).values())
            target = before + rng.randint(1, len(chunk))
            with projector_process(env, log_file) as proc:
                if cycle % 2:  # killed in a transaction that has written rows, uncommitted
                    await eventually_async(
                        partial(_writing, watcher, group_id), timeout=60, interval=0.001,
                        what="the projector to be inside a writing transaction")
                else:  # killed at a random point after some progress
                    await eventually_async(
                        partial(_progressed, database, target), timeout=60, interval=0.01,
                        what="the projector to make progress before it is killed")
                proc.send_signal(signal.SIGKILL)
                assert await asyncio.to_thread(proc.wait, 30) == -signal.SIGKILL
            await producing
    finally:
        await asyncio.to_thread(watcher.close)
    await produce(stack.bootstrap_servers, topics, chunks[KILLS])
    with projector_process(env, log_file) as proc:
        await eventually_async(lambda: _progressed(database, sent), timeout=90,
                               what="the projector to catch up with the log")
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) == 0, log_file.read_text()[-3000:]
    _assert_projected(database, events, duplicates=1)
    await _assert_equal_to_rebuild(stack, database, topics, group_id)


def _watcher(database: DatabaseSettings) -> psycopg.Connection:
    return psycopg.connect(database.url, autocommit=True)


async def _writing(watcher: psycopg.Connection, group: str) -> bool:
    """Whether the projector of ``group`` has a transaction open that has written rows."""
    row = watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
                          "AND backend_xid IS NOT NULL", (f"projector:{group}",)).fetchone()
    return bool(row and row[0])


async def _logged(log_file: Path, text: str) -> bool:
    return text in await asyncio.to_thread(log_file.read_text)


async def _progressed(database: DatabaseSettings, target: int) -> bool:
    return sum((await asyncio.to_thread(stored_offsets, database)).values()) >= target


class OwnPostgres:
    """A PostgreSQL server of the test's own, which the test may stop and start again."""

    def __init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="biogas-proj-pg-"))
        self.home.chmod(0o755)  # the postgres OS user must traverse it
        self.pg_user = StackSettings().pg_user
        self.server = start_postgres(self.home / "pg", self.pg_user, 60)
        self.port = int(self.server.dsn.rsplit(":", 1)[1].split("/", 1)[0])
        self.running = True

    def stop(self) -> None:
        assert stop_postgres(self.server.data_dir, self.server.process, self.pg_user)
        self.running = False

    def start(self) -> None:
        self.server = start_postgres(self.home / "pg", self.pg_user, 60, port=self.port)
        self.running = True


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    pg = OwnPostgres()
    try:
        yield pg
    finally:
        if pg.running:
            pg.stop()
        shutil.rmtree(pg.home, ignore_errors=True)


async def test_database_restart_mid_stream_loses_and_duplicates_nothing(
        stack: StackEndpoints, topics: Topics, group_id: str, tmp_path: Path,
        own_postgres: OwnPostgres) -> None:
    database = DatabaseSettings(url=own_postgres.server.dsn, schema_name="proj")
    await asyncio.to_thread(apply_migrations, database)
    events = interleave(*(plant_events(f"plant-{i}", 200, seed=10 + i) for i in range(2)))
    half = len(events) // 2
    env = projector_env(stack.bootstrap_servers, database, topics, group_id,
                        BIOGAS_PROJECTOR_BATCH_MAX_MESSAGES="30",
                        BIOGAS_PROJECTOR_RETRY_MAX_S="0.5")
    log_file = tmp_path / "projector.log"
    with projector_process(env, log_file) as proc:
        await produce(stack.bootstrap_servers, topics, events[:half])
        await eventually_async(lambda: _progressed(database, 1), timeout=60,
                               what="the projector to start writing")
        await asyncio.to_thread(own_postgres.stop)
        producing = asyncio.create_task(produce(stack.bootstrap_servers, topics, events[half:]))
        await eventually_async(lambda: _logged(log_file, "database_unavailable"), timeout=30,
                               what="the projector to notice the database is gone")
        await asyncio.to_thread(own_postgres.start)
        await producing
        await eventually_async(lambda: _progressed(database, len(events)), timeout=90,
                               what="the projector to catch up after the restart")
        assert proc.poll() is None, log_file.read_text()[-3000:]
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) == 0
    _assert_projected(database, events, duplicates=0)
    await _assert_equal_to_rebuild(stack, database, topics, group_id)


async def test_the_same_event_twice_changes_nothing_but_the_ledger(
        stack: StackEndpoints, topics: Topics, database: DatabaseSettings, group_id: str,
        tmp_path: Path) -> None:
    events = plant_events("plant-d", 30, seed=99)
    env = projector_env(stack.bootstrap_servers, database, topics, group_id)
    log_file = tmp_path / "projector.log"
    tables = ("readings", "rollup_1m", "rollup_1h", "latest_readings", "alerts",
              "alert_history", "device_status", "anomalies", "lab_results")
    with projector_process(env, log_file) as proc:
        await produce(stack.bootstrap_servers, topics, events)
        await eventually_async(lambda: _progressed(database, len(events)), timeout=60,
                               what="the projector to project every event")
        before = {t: query(database, f"SELECT * FROM {t} ORDER BY 1, 2, 3") for t in tables}
        await produce(stack.bootstrap_servers, topics, events)  # every event again
        await eventually_async(lambda: _progressed(database, 2 * len(events)), timeout=60,
                               what="the projector to consume the repeated events")
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) == 0
    after = {t: query(database, f"SELECT * FROM {t} ORDER BY 1, 2, 3") for t in tables}
    assert after == before
    edge = sum(1 for e in events if hasattr(e, "seq"))
    assert query(database, "SELECT duplicate_count, missing_count FROM delivery_ledger") == [
        (edge, 0)]
    with psycopg.connect(database.url) as conn:
        assert conn.execute(f'SELECT count(*) FROM "{database.schema_name}".readings'
                            ).fetchone() == (readings_in(events),)


async def test_two_workers_rebalancing_while_events_flow_project_every_event_once(
        stack: StackEndpoints, topics: Topics, database: DatabaseSettings, group_id: str,
        tmp_path: Path) -> None:
    events = interleave(*(plant_events(f"plant-{i}", 200, seed=50 + i) for i in range(4)))
    quarter = -(-len(events) // 4)
    chunks = [events[i * quarter:(i + 1) * quarter] for i in range(4)]
    env = projector_env(stack.bootstrap_servers, database, topics, group_id,
                        BIOGAS_PROJECTOR_BATCH_MAX_MESSAGES="20")
    del env["BIOGAS_PROJECTOR_INSTANCE_ID"]  # dynamic members: every change rebalances
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    done = 0

    async def step(chunk: list[EventBase]) -> None:
        nonlocal done
        producing = asyncio.create_task(produce(stack.bootstrap_servers, topics, chunk))
        done += len(chunk)
        await eventually_async(partial(_progressed, database, done - len(chunk) // 2),
                               timeout=60, what="the workers to make progress")
        await producing

    with projector_process(env, log_a) as a:
        await step(chunks[0])
        with projector_process(env, log_b) as b:  # joins: a gives partitions to b
            await step(chunks[1])
            await eventually_async(partial(_assignments, log_a, 2), timeout=60,
                                   what="a to be rebalanced when b joins")
            a.send_signal(signal.SIGTERM)  # leaves the group: b takes everything
            assert await asyncio.to_thread(a.wait, 30) == 0
            await eventually_async(partial(_assignments, log_b, 2), timeout=60,
                                   what="b to take a's partitions")
            with projector_process(env, log_a) as a2:  # joins again
                await step(chunks[2])
                await eventually_async(partial(_assignments, log_b, 3), timeout=60,
                                       what="b to give partitions to the new a")
                b.send_signal(signal.SIGKILL)  # b's partitions move when its session expires
                await asyncio.to_thread(b.wait, 30)
                await step(chunks[3])
                await eventually_async(partial(_progressed, database, len(events)),
                                       timeout=90, what="the survivor to catch up")
                a2.send_signal(signal.SIGTERM)
                assert await asyncio.to_thread(a2.wait, 30) == 0
    assert await _assignments(log_a, 4), "a (twice) must have seen four assignments"
    _assert_projected(database, events, duplicates=0)
    await _assert_equal_to_rebuild(stack, database, topics, group_id)


async def _assignments(log_file: Path, at_least: int) -> bool:
    text = await asyncio.to_thread(log_file.read_text)
    return text.count('"event": "partitions_assigned"') >= at_least
