"""The live projector: consumes the projected topics in a consumer group and applies each batch
to the live projection version, with the offsets in the same transaction (see ``store``).

Kafka-committed offsets are never used: on every assignment, and whenever the database says
its offsets are not where this consumer is reading, the consumer seeks to the offsets stored
in the database.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError

from projections.errors import DatabaseUnavailableError, ProjectionError
from projections.health import ProjectionProgress
from projections.settings import ProjectorSettings
from projections.store import Applied, Decoded, ProjectionStore, RawMessage, decode_batch
from streams.logsetup import get_logger
from streams.topics import Stream, Topics

#: The streams materialised into the projection tables.
PROJECTED_STREAMS = (Stream.TAG_CATALOGUE, Stream.SCANS, Stream.DEVICE_STATUS, Stream.HEARTBEATS,
                     Stream.ANOMALIES,
                     Stream.ALERTS, Stream.ALERT_COMMANDS, Stream.LAB_RESULTS)
_T = TypeVar("_T")
log = get_logger("projections.projector")


def projected_topics(settings: ProjectorSettings) -> list[str]:
    topics = Topics(prefix=settings.topic_prefix)
    return [topics.name(stream) for stream in PROJECTED_STREAMS]


def raw_messages(records: dict[TopicPartition, list[object]]) -> list[RawMessage]:
    return [RawMessage(tp.topic, tp.partition, r.offset, r.value)  # type: ignore[attr-defined]
            for tp, batch in records.items() for r in batch]


class Retrying:
    """Run blocking database calls in a thread, retrying transient errors with back-off
    until they succeed or ``stop`` is set (then :class:`asyncio.CancelledError`)."""

    def __init__(self, store: ProjectionStore, settings: ProjectorSettings,
                 stop: asyncio.Event, progress: ProjectionProgress | None = None) -> None:
        self._store, self._settings, self._stop = store, settings, stop
        self._progress = progress or ProjectionProgress()

    async def __call__(self, call: Callable[[], _T], what: str) -> _T:
        delay = self._settings.retry_initial_s
        while True:
            try:
                result = await asyncio.to_thread(call)
                self._progress.db_failing_since = None
                return result
            except DatabaseUnavailableError as exc:
                self._progress.db_errors += 1
                if self._progress.db_failing_since is None:
                    self._progress.db_failing_since = time.time()
                log.warning("database_unavailable", during=what, error=str(exc)[:300],
                            retry_in_s=round(delay, 2))
                await asyncio.to_thread(self._store.reset)
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=delay)
            except TimeoutError:
                delay = min(delay * 2, self._settings.retry_max_s)
                continue
            raise asyncio.CancelledError(f"stopped while waiting for the database ({what})")


class Projector(ConsumerRebalanceListener):  # type: ignore[misc]
    """One projector worker; several may run in the same group."""

    def __init__(self, settings: ProjectorSettings, stop: asyncio.Event) -> None:
        self._settings = settings
        self._stop = stop
        self._store = ProjectionStore(settings.database,
                                      application_name=f"projector:{settings.group_id}")
        #: what the endpoints report (:mod:`projections.health`)
        self.progress = ProjectionProgress()
        self._db = Retrying(self._store, settings, stop, self.progress)
        self._consumer: AIOKafkaConsumer | None = None
        self._prefix = ""
        self._fetched: dict[tuple[str, int], int | None] = {}
        self._last_report, self._reported = time.monotonic(), 0
        self._generation = 0
        self._resync_needed = True

    # aiokafka calls these while it rebalances; the main loop re-seeks before reading on.
    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        self._generation += 1
        self._fetched.clear()
        self.progress.synced = False

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        self._generation += 1
        self._resync_needed = True
        log.info("partitions_assigned", count=len(assigned))

    async def run(self) -> None:
        """Consume and project until ``stop`` is set."""
        s = self._settings
        consumer = AIOKafkaConsumer(
            bootstrap_servers=s.kafka.bootstrap_servers, client_id=f"{s.kafka.client_id}-proj",
            group_id=s.group_id, group_instance_id=s.instance_id,
            session_timeout_ms=s.session_timeout_ms, enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed", max_poll_interval_ms=600_000)
        self._consumer = consumer
        topics = projected_topics(s)
        consumer.subscribe(topics, listener=self)
        try:
            await consumer.start()
            log.info("projector_started", topics=topics, group_id=s.group_id)
            await self._loop(consumer)
        except asyncio.CancelledError:
            if not self._stop.is_set():
                raise
        except KafkaError as exc:
            raise ProjectionError(f"Kafka error while projecting: {exc!r}") from exc
        finally:
            await consumer.stop()
            await asyncio.to_thread(self._store.close)
            log.info("projector_stopped", events=self.progress.events,
                     readings=self.progress.readings)

    async def _loop(self, consumer: AIOKafkaConsumer) -> None:
        """Fetch and decode batch n+1 while batch n is being written; write one at a time."""
        s = self._settings
        writing: asyncio.Task[None] | None = None
        try:
            while not self._stop.is_set():
                if self._resync_needed:
                    await self._settle(writing)
                    writing = None
                    await self._resync(consumer)
                    continue
                generation = self._generation
                records = await consumer.getmany(timeout_ms=s.batch_wait_ms,
                                                 max_records=s.batch_max_messages)
                messages = (self._in_order(raw_messages(records))
                            if generation == self._generation else [])
                decoded = await asyncio.to_thread(decode_batch, messages) if messages else []
                await self._settle(writing)
                writing = None
                if not decoded or self._resync_needed or generation != self._generation:
                    continue
                expected = {tp: self._fetched.get(tp)
                            for tp in {(m.topic, m.partition) for m in messages}}
                self._fetched.update({(m.topic, m.partition): m.offset + 1 for m in messages})
                after = {tp: self._fetched[tp] for tp in expected}
                writing = asyncio.create_task(self._write(decoded, expected, after, generation))
        finally:
            await self._settle(writing)

    async def _write(self, decoded: list[Decoded], expected: dict[tuple[str, int], int | None],
                     after: dict[tuple[str, int], int | None], generation: int) -> None:
        started = time.monotonic()
        outcome = await self._db(partial(self._store.apply_decoded, self._prefix, decoded,
                                         expected, must_be_live=True), "apply")
        log.debug("batch_applied", messages=len(decoded),
                  ms=round((time.monotonic() - started) * 1000, 1))
        if generation != self._generation:
            return  # a rebalance happened meanwhile: the resync reads the offsets again
        if isinstance(outcome, Applied):
            self.progress.events += outcome.events
            self.progress.readings += outcome.readings
            self.progress.positions.update(after)
            self.progress.applied_at = time.time()
            self._report_progress()
        else:
            log.info("projector_resync", reason=outcome.reason)
            self._resync_needed = True

    async def _settle(self, writing: asyncio.Task[None] | None) -> None:
        """Wait for the batch being written (its errors propagate)."""
        if writing is not None:
            await writing

    def _report_progress(self) -> None:
        now = time.monotonic()
        if now - self._last_report >= 10:
            log.info("projector_progress", events=self.progress.events,
                     readings=self.progress.readings, version=self._prefix,
                     events_per_s=round((self.progress.events - self._reported)
                                        / (now - self._last_report)))
            self._last_report, self._reported = now, self.progress.events

    def _in_order(self, messages: list[RawMessage]) -> list[RawMessage]:
        """The messages of assigned partitions from the offsets fetched so far on. A partition
        that continues after a hole had messages deleted from the log (retention) or skipped
        as transaction markers: that is logged, since those cannot be projected."""
        kept: list[RawMessage] = []
        first: dict[tuple[str, int], int] = {}
        for m in messages:
            tp = (m.topic, m.partition)
            if tp not in self._fetched:
                continue
            expected = self._fetched[tp]
            if expected is not None and m.offset < expected:
                continue
            if tp not in first:
                first[tp] = m.offset
                if expected is not None and m.offset > expected:
                    # One offset is what a transaction marker takes; more is a hole in the log.
                    report = log.debug if m.offset == expected + 1 else log.warning
                    report("offset_gap", topic=tp[0], partition=tp[1], expected=expected,
                           first=m.offset)
            kept.append(m)
        return kept

    def log_ends(self) -> dict[tuple[str, int], int | None]:
        """Per assigned partition, how far a read-committed consumer may read (None: no
        fetch has said yet)."""
        consumer = self._consumer
        if consumer is None:
            return {}
        return {(tp.topic, tp.partition): consumer.last_stable_offset(tp)
                for tp in consumer.assignment()}

    async def _resync(self, consumer: AIOKafkaConsumer) -> None:
        """Seek every assigned partition to the offsets stored for the live version."""
        self._resync_needed = False
        self._generation += 1
        generation = self._generation
        assigned = sorted(consumer.assignment())
        prefix = await self._db(self._store.live_prefix, "live version")
        tps = [(tp.topic, tp.partition) for tp in assigned]
        stored = await self._db(lambda: self._store.positions(prefix, tps), "positions")
        if generation != self._generation:
            self._resync_needed = True
            return
        try:
            for tp in assigned:
                position = stored[(tp.topic, tp.partition)]
                if position is None:
                    await consumer.seek_to_beginning(tp)
                else:
                    consumer.seek(tp, position)
        except IllegalStateError:
            self._resync_needed = True
            return
        if prefix != self._prefix:
            log.info("projecting_into", version=prefix)
        self._prefix = prefix
        self._fetched = dict(stored)
        self.progress.positions = dict(stored)
        self.progress.synced = True
        self._generation += 1
