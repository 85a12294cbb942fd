"""Rebuild by replay: the log from the beginning into a new projection version beside the live
one, then an atomic swap of the query views, a comparison, and the old version dropped.

The live projector keeps projecting into the old version meanwhile; after the swap it sees the
new live version in its next transaction and carries on from the offsets the rebuild stored.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from functools import partial

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ops.gc_tuning import fewer_collections
from projections import versions
from projections.errors import ProjectionError
from projections.prepare import Prepared, PreparePool
from projections.projector import Retrying, projected_topics, raw_messages
from projections.settings import ProjectorSettings
from projections.store import Applied, ProjectionStore, RawMessage, Stale
from streams.logsetup import get_logger

log = get_logger("projections.rebuild")
#: Stop catching up and swap when fewer messages than this are left behind the log end.
CATCH_UP_SLACK = 2000
MAX_CATCH_UP_ROUNDS = 5


@dataclass
class RebuildReport:
    old_version: str
    new_version: str
    messages: int
    readings: int
    seconds: float
    comparison: list[versions.TableComparison] = field(default_factory=list)
    offsets_equal: bool = False

    @property
    def readings_per_s(self) -> float:
        return self.readings / self.seconds if self.seconds > 0 else 0.0

    def print(self, console: Console | None = None) -> None:
        console = console or Console()
        table = Table(title=f"projection {self.old_version} (old) vs {self.new_version} (new)")
        for column in ("table", "old rows", "new rows", "differing rows", "same"):
            table.add_column(column)
        for c in self.comparison:
            table.add_row(c.table, str(c.old_rows), str(c.new_rows),
                          "-" if c.differing_rows is None else str(c.differing_rows),
                          "yes" if c.same else "no")
        console.print(table)
        note = ("both versions had consumed the same offsets" if self.offsets_equal else
                "the versions had consumed different offsets (a live projector kept going, "
                "or had not caught up), so counts may differ by the tail of the log and rows "
                "were not compared one by one")
        console.print(f"replayed {self.messages} messages, {self.readings} readings in "
                      f"{self.seconds:.1f} s ({self.readings_per_s:,.0f} readings/s); {note}; "
                      f"queries now read {self.new_version}")


class Rebuild:
    """One rebuild run; ``run()`` returns the report after the swap."""

    def __init__(self, settings: ProjectorSettings, stop: asyncio.Event, *,
                 show_progress: bool = False, keep_old: bool = False) -> None:
        self._settings = settings
        self._stop = stop
        self._show_progress = show_progress
        self._keep_old = keep_old
        self._store = ProjectionStore(settings.database, application_name="rebuild")
        self._db = Retrying(self._store, settings, stop)

    async def run(self) -> RebuildReport:
        s = self._settings
        consumer = AIOKafkaConsumer(
            bootstrap_servers=s.kafka.bootstrap_servers,
            client_id=f"{s.kafka.client_id}-rebuild", group_id=None, enable_auto_commit=False,
            auto_offset_reset="earliest", isolation_level="read_committed",
            max_partition_fetch_bytes=8 * 1024 * 1024)
        pool = PreparePool(s.rebuild_workers)
        try:
            await pool.start()
            await consumer.start()
            with fewer_collections():
                return await self._replay(consumer, pool)
        except KafkaError as exc:
            raise ProjectionError(f"Kafka error while rebuilding: {exc!r}") from exc
        finally:
            await consumer.stop()
            await asyncio.to_thread(self._store.close)
            await pool.close()

    async def _replay(self, consumer: AIOKafkaConsumer, pool: PreparePool) -> RebuildReport:
        store = self._store
        prefix = await self._db(lambda: versions.create_version(store.connection()),
                                "create version")
        log.info("rebuild_started", version=prefix)
        tps = await self._partitions()
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        begin = await consumer.beginning_offsets(tps)
        pipeline = _Pipeline(prefix, store, self._db, pool,
                             ahead=2 * self._settings.rebuild_workers)
        with Progress(TextColumn("rebuild {task.fields[version]}"), BarColumn(),
                      MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                      TimeRemainingColumn(), disable=not self._show_progress) as bar:
            task = bar.add_task("replay", total=None, version=prefix, rate="")
            try:
                for catch_up in range(MAX_CATCH_UP_ROUNDS):
                    end = await consumer.end_offsets(tps)
                    bar.update(task, total=sum(end[tp] - begin[tp] for tp in tps))
                    if catch_up and await self._behind(consumer, tps, end) < CATCH_UP_SLACK:
                        break
                    while await self._behind(consumer, tps, end) > 0:
                        if self._stop.is_set():
                            raise ProjectionError(f"rebuild of {prefix} interrupted; the "
                                                  "live version is unchanged")
                        records = await consumer.getmany(
                            timeout_ms=self._settings.batch_wait_ms,
                            max_records=self._settings.batch_max_messages)
                        await pipeline.push(raw_messages(records))
                        bar.update(task, completed=pipeline.messages,
                                   rate=f"{pipeline.readings_per_s():,.0f} readings/s")
                await pipeline.drain()
            finally:
                await pipeline.abandon()
            bar.update(task, completed=pipeline.messages,
                       rate=f"{pipeline.readings_per_s():,.0f} readings/s")
        return await self._swap(prefix, pipeline.messages, pipeline.readings,
                                time.monotonic() - pipeline.started)

    async def _partitions(self) -> list[TopicPartition]:
        """Every partition of the projected topics, as the broker has them."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self._settings.kafka.bootstrap_servers,
                                    client_id=f"{self._settings.kafka.client_id}-rebuild")
        await admin.start()
        try:
            described = await admin.describe_topics(projected_topics(self._settings))
        finally:
            await admin.close()
        missing = [t["topic"] for t in described if t["error_code"] != 0 or not t["partitions"]]
        if missing:
            raise ProjectionError(f"cannot replay: topics missing on the broker: {missing}")
        return sorted(TopicPartition(t["topic"], p["partition"])
                      for t in described for p in t["partitions"])

    async def _behind(self, consumer: AIOKafkaConsumer, tps: list[TopicPartition],
                      end: dict[TopicPartition, int]) -> int:
        total = 0
        for tp in tps:
            total += max(0, end[tp] - await consumer.position(tp))
        return total

    async def _swap(self, prefix: str, messages: int, readings: int,
                    seconds: float) -> RebuildReport:
        conn = self._store.connection
        old = await self._db(lambda: versions.live_version(conn()), "live version")
        report = RebuildReport(old, prefix, messages, readings, seconds)
        report.offsets_equal, report.comparison = await self._db(
            lambda: versions.compare_versions(conn(), old, prefix), "compare")
        await self._db(lambda: versions.swap_to(conn(), prefix), "swap")
        log.info("rebuild_swapped", old=old, new=prefix, messages=messages, readings=readings,
                 seconds=round(seconds, 1))
        if not self._keep_old:
            await self._db(lambda: versions.drop_version(conn(), old), "drop old version")
        return report


class _Pipeline:
    """Batches are prepared in worker processes, up to ``ahead`` of them at once, while the
    oldest prepared one is written (in a thread: the database server works meanwhile).
    Batches are written one at a time, in log order."""

    def __init__(self, prefix: str, store: ProjectionStore, db: Retrying, pool: PreparePool,
                 *, ahead: int) -> None:
        self._prefix, self._store, self._db, self._pool = prefix, store, db, pool
        self._ahead = ahead
        self._pending: deque[tuple[list[RawMessage], dict[tuple[str, int], int | None],
                                   asyncio.Future[Prepared]]] = deque()
        self._writing: asyncio.Task[Applied | Stale] | None = None
        self._next: dict[tuple[str, int], int | None] = {}
        self.messages = self.readings = 0
        self.started = time.monotonic()

    def readings_per_s(self) -> float:
        return self.readings / max(time.monotonic() - self.started, 1e-9)

    async def push(self, batch: list[RawMessage]) -> None:
        if not batch:
            return
        expected = {tp: self._next.get(tp) for tp in {(m.topic, m.partition) for m in batch}}
        self._next.update({(m.topic, m.partition): m.offset + 1 for m in batch})
        self._pending.append((batch, expected, await self._pool.submit(batch)))
        self.messages += len(batch)
        while len(self._pending) > self._ahead:
            await self._write_next()

    async def drain(self) -> None:
        """Write every pushed batch."""
        while self._pending:
            await self._write_next()
        await self._written()

    async def abandon(self) -> None:
        """Wait for the batch being written; drop the ones not written yet."""
        for _, _, prepared in self._pending:
            prepared.cancel()
        self._pending.clear()
        await self._written()

    async def _write_next(self) -> None:
        batch, expected, preparing = self._pending.popleft()
        prepared = await preparing
        await self._written()
        self._writing = asyncio.create_task(self._db(
            partial(self._store.apply_prepared, self._prefix, prepared, batch, expected,
                    synchronous_commit=False), "apply"))

    async def _written(self) -> None:
        """Wait for the batch being written."""
        writing, self._writing = self._writing, None
        if writing is None:
            return
        outcome = await writing
        if not isinstance(outcome, Applied):
            raise ProjectionError(f"rebuild of {self._prefix} lost its offsets: "
                                  f"{outcome.reason}; is another rebuild running?")
        self.readings += outcome.readings
