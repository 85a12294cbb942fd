"""Rebuild by replay on the real broker and database: queries never fail while it runs, the
query views switch atomically, and a live projector carries on in the new version."""

from __future__ import annotations

import asyncio
import signal
import threading
from pathlib import Path

import psycopg
from aiokafka import AIOKafkaProducer

from projections.rebuild import Rebuild
from projections.settings import ProjectorSettings
from streams.codec import encode
from streams.events import AlertAcknowledged, LabResultRecorded
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
from tests.waiting import eventually, eventually_async

# One statement over three views: if they ever pointed at different versions mid-swap, the
# counts would disagree. Half the threads take the views in the opposite order (queries that
# lock views in different orders are what could deadlock with the swap).
_CONSISTENT = ("""
SELECT (SELECT count(*) FROM readings),
       (SELECT coalesce(sum(sample_count), 0) FROM rollup_1m),
       (SELECT coalesce(sum(sample_count), 0) FROM rollup_1h)
""", """
SELECT c, b, a FROM (SELECT
       (SELECT coalesce(sum(sample_count), 0) FROM rollup_1h) AS a,
       (SELECT coalesce(sum(sample_count), 0) FROM rollup_1m) AS b,
       (SELECT count(*) FROM readings) AS c) AS reversed
""")


class QueryLoad:
    """Threads querying the API-facing views in a loop, recording every answer and error."""

    def __init__(self, database: DatabaseSettings, threads: int = 4) -> None:
        self.database = database
        self.stop = threading.Event()
        self.answers: list[list[tuple[int, int, int]]] = [[] for _ in range(threads)]
        self.errors: list[BaseException] = []
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                         for i in range(threads)]

    def __enter__(self) -> QueryLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _run(self, index: int) -> None:
        try:
            with psycopg.connect(self.database.url, autocommit=True) as conn:
                conn.execute(f'SET search_path TO "{self.database.schema_name}"')
                while not self.stop.is_set():
                    row = conn.execute(_CONSISTENT[index % 2]).fetchone()
                    assert row is not None
                    self.answers[index].append((int(row[0]), int(row[1]), int(row[2])))
                    conn.execute("SELECT * FROM latest_readings ORDER BY plant_id, tag "
                                 "LIMIT 20").fetchall()
                    conn.execute("SELECT * FROM completeness_hourly LIMIT 5").fetchall()
        except Exception as exc:  # noqa: BLE001 - recorded, asserted by the test
            self.errors.append(exc)

    def seen(self, readings: int) -> int:
        return sum(1 for answers in self.answers for a in answers if a[0] == readings)


def _settings(stack: StackEndpoints, database: DatabaseSettings, topics: Topics,
              group: str) -> ProjectorSettings:
    return ProjectorSettings(kafka=stack.kafka, database=database, topic_prefix=topics.prefix,
                             group_id=group, batch_max_messages=200)


async def _caught_up(database: DatabaseSettings, target: int) -> bool:
    return sum((await asyncio.to_thread(stored_offsets, database)).values()) >= target


async def test_rebuild_while_queried_switches_atomically_and_no_query_fails(
        stack: StackEndpoints, topics: Topics, database: DatabaseSettings, group_id: str,
        tmp_path: Path) -> None:
    first = interleave(*(plant_events(f"plant-{i}", 150, seed=20 + i) for i in range(2)))
    more = plant_events("plant-x", 150, seed=30)
    env = projector_env(stack.bootstrap_servers, database, topics, group_id)
    await produce(stack.bootstrap_servers, topics, first)
    with projector_process(env, tmp_path / "projector.log") as proc:
        await eventually_async(lambda: _caught_up(database, len(first)), timeout=60,
                               what="the live version to hold the first events")
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) == 0
    await produce(stack.bootstrap_servers, topics, more)  # only the rebuild will see these
    old, new = readings_in(first), readings_in(first) + readings_in(more)

    with QueryLoad(database) as load:
        await asyncio.to_thread(eventually, lambda: load.seen(old) >= 10, timeout=30,
                                what="queries to run against the old version")
        report = await Rebuild(_settings(stack, database, topics, group_id),
                               asyncio.Event()).run()
        await asyncio.to_thread(eventually, lambda: load.seen(new) >= 10, timeout=30,
                                what="queries to see the new version")
    assert not load.errors, f"queries failed during the rebuild: {load.errors[:3]}"
    for answers in load.answers:
        assert all(a[0] == a[1] == a[2] for a in answers), "views pointed at different versions"
        values = [a[0] for a in answers]
        assert set(values) <= {old, new}
        if new in values:
            switched = values.index(new)
            assert set(values[switched:]) == {new}, "a query went back to the old version"
    assert (report.old_version, report.new_version) == ("p1", "p2")
    assert report.readings == new
    assert query(database, "SELECT prefix FROM projection_live") == [("p2",)]
    assert query(database, "SELECT count(*) FROM pg_class WHERE relname LIKE 'p1\\_%' AND "
                           "relnamespace = current_schema()::regnamespace") == [(0,)]


async def test_live_projector_carries_on_in_the_rebuilt_version(
        stack: StackEndpoints, topics: Topics, database: DatabaseSettings, group_id: str,
        tmp_path: Path) -> None:
    streams = [plant_events(f"plant-{i}", 200, seed=40 + i) for i in range(3)]
    events = interleave(*streams)
    third = len(events) // 3
    env = projector_env(stack.bootstrap_servers, database, topics, group_id,
                        BIOGAS_PROJECTOR_BATCH_MAX_MESSAGES="25")
    log_file = tmp_path / "projector.log"
    with projector_process(env, log_file) as proc:
        await produce(stack.bootstrap_servers, topics, events[:third])
        await eventually_async(lambda: _caught_up(database, third), timeout=60,
                               what="the live projector to write into the first version")
        producing = asyncio.create_task(
            produce(stack.bootstrap_servers, topics, events[third:2 * third]))
        report = await Rebuild(_settings(stack, database, topics, group_id),
                               asyncio.Event()).run()
        await producing
        await produce(stack.bootstrap_servers, topics, events[2 * third:])
        await eventually_async(lambda: _caught_up(database, len(events)), timeout=90,
                               what="the live projector to catch up in the new version")
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) == 0
    assert report.new_version == "p2"
    assert '"version": "p2", "event": "projecting_into"' in log_file.read_text(), \
        "the live projector did not switch to the rebuilt version"
    assert query(database, "SELECT count(*) FROM readings") == [(readings_in(events),)]
    assert query(database, "SELECT sum(sample_count) FROM rollup_1h") == [
        (readings_in(events),)]
    assert query(database, "SELECT sum(duplicate_count), sum(missing_count) "
                           "FROM delivery_ledger") == [(0, 0)]


async def test_events_appended_in_transactions_are_projected_and_replayed(
        stack: StackEndpoints, topics: Topics, database: DatabaseSettings, group_id: str,
        unique: str, tmp_path: Path) -> None:
    # The API appends commands in Kafka transactions: their commit markers take offsets.
    events = plant_events("plant-t", 10, seed=60)
    commands = [e for e in events if isinstance(e, AlertAcknowledged | LabResultRecorded)]
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap_servers,
                                enable_idempotence=True, transactional_id=f"tx-{unique}")
    await producer.start()
    try:
        for event in commands:
            async with producer.transaction():
                await producer.send_and_wait(topics.topic_for(event).name, encode(event),
                                             key=topics.key_for(event))
    finally:
        await producer.stop()
    await produce(stack.bootstrap_servers, topics, [e for e in events if e not in commands])
    env = projector_env(stack.bootstrap_servers, database, topics, group_id)
    with projector_process(env, tmp_path / "projector.log") as proc:
        await eventually_async(
            lambda: _has(database, "SELECT count(*) = 1 FROM alerts WHERE state = 'cleared' "
                                   "AND acknowledged_by IS NOT NULL"),
            timeout=60, what="the acknowledgement to be projected")
        await eventually_async(lambda: _has(database, "SELECT count(*) = 1 FROM lab_results"),
                               timeout=60, what="the lab result to be projected")
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) == 0
    report = await asyncio.wait_for(
        Rebuild(_settings(stack, database, topics, group_id), asyncio.Event()).run(), 60)
    assert report.offsets_equal
    assert all(c.same and c.differing_rows == 0 for c in report.comparison), report.comparison


async def _has(database: DatabaseSettings, sql: str) -> bool:
    return bool((await asyncio.to_thread(query, database, sql))[0][0])
