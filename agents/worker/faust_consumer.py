"""The worker's Faust app with a consumer that does not lose the records it sets aside.

faust-streaming's ``Consumer.getmany`` takes records from aiokafka's fetcher (which moves the
fetch position past them) and then drops, without a word, those of a partition that is not
active at that moment (paused for table recovery during a rebalance), and the rest of the
batch when the flow stops or the generation changes. Faust counts on its seek to the committed
offsets after recovery to fetch them again, but aiokafka's ``seek_to_committed`` leaves alone
a partition whose committed offset is 0 or absent, and a drop after that seek is never undone:
the records are lost (a restarted worker then never saw the first anomalies of a topic), or
the partition waits for records that will not come again (see ``agents/README.md``,
"Stalls"). The same race lets records reach the agents while the tables are still being
recovered, before the state they need.

Here ``getmany`` is Faust's own, except that it also sets aside the agents' records until
the tables are recovered and the rebalance is over, and that every record it sets aside makes
its partition seek back to the first such record, so that the fetcher brings it again. And
the consumer reads committed records only (:class:`CommittedOnlyThread`).

The detect agent acknowledges its messages only at state checkpoints (:class:`HeldEvents`
keeps a reference on each message until then); the app writes a checkpoint before Faust waits
for every message to be acknowledged (a rebalance, a stop), which would otherwise wait for
ever (:meth:`AgentsApp._consumer_wait_empty`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, cast

import aiokafka
import faust
from aiokafka.errors import IllegalStateError
from faust.tables.manager import TableManager
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Consumer, Transport
from faust.types import TP, ConsumerT, EventT, Message

from ops.endpoints import HealthServer
from streams.logsetup import get_logger

log = get_logger("agents.consumer")


class CommittedOnlyThread(AIOKafkaConsumerThread):
    """Faust's consumer thread, whose aiokafka consumer reads committed records only. Faust
    asks for ``read_committed`` only when the worker itself runs transactions; but the API
    appends alert commands and lab results in transactions, and a record of an aborted one
    (the API answered with an error) must never reach an agent."""

    def _create_worker_consumer(self, transport: Transport) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka (pinned) keeps the level here until start() builds its fetcher with it
        if getattr(consumer, "_isolation_level", None) not in ("read_uncommitted",
                                                              "read_committed"):
            raise RuntimeError("aiokafka's consumer no longer keeps _isolation_level: the "
                               "agents' read_committed setting needs another way in")
        consumer._isolation_level = "read_committed"
        return consumer


class RewindingConsumer(Consumer):
    """Faust's aiokafka consumer; records set aside by :meth:`getmany` are fetched again, and
    records of the agents' topics are set aside until the tables are recovered and no
    rebalance is under way (Faust lets the flow run while it reads the changelogs, and a
    stream partition still counted as active then reaches the agents before their state)."""

    logger = logging.getLogger("faust.transport.drivers.aiokafka")

    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return CommittedOnlyThread(self, loop=self.loop, beacon=self.beacon)

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        records, active_partitions = await self._wait_next_records(timeout)
        generation_id = self.app.consumer_generation_id
        if records is None or self.should_stop:
            return
        if not self.flow_active:  # as Faust does (the flow stopped while fetching)
            await self.perform_seek()
        set_aside: dict[TP, int] = {}
        recovered = cast(TableManager, self.app.tables).recovery.completed.is_set()
        try:
            for tp, record in self.scheduler.iterate(records):
                settled = recovered and not self.app.rebalancing
                if (tp in set_aside  # keep a partition's order: the rest waits too
                        or not self.flow_active
                        or self.app.consumer_generation_id != generation_id
                        or not (settled or self._is_changelog_tp(tp))
                        or not (active_partitions is None or tp in active_partitions
                                or tp in self._buffered_partitions)):
                    set_aside.setdefault(tp, record.offset)
                    continue
                self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
                yield tp, self._to_message(tp, record)
        finally:
            if set_aside:
                await self._rewind(set_aside)

    async def _rewind(self, offsets: dict[TP, int]) -> None:
        """Seek each partition back to its first record set aside, unless it already is
        further back (never forward: a seek to the committed offsets may have come first)."""
        assigned = self.assignment()
        try:
            wanted = {}
            for tp, offset in offsets.items():
                if tp not in assigned:
                    continue  # revoked: the next owner starts at the committed offset
                position = await self.position(tp)
                if position is None or position > offset:
                    wanted[tp] = offset
            if wanted:
                log.info("consumer_rewinding_set_aside_records", partitions={
                    f"{tp.topic}:{tp.partition}": o for tp, o in wanted.items()})
                await self.seek_wait(wanted)
        except IllegalStateError as exc:  # revoked meanwhile
            log.info("consumer_rewind_skipped", error=repr(exc))


class HeldEvents:
    """Stream events whose acknowledgement waits for a state checkpoint.

    Faust acknowledges a message when its reference count falls to 0 (``take_events`` drops
    its reference once the agent asks for the next batch); holding one more reference keeps
    the message, and every later offset of its partition, from being committed."""

    def __init__(self) -> None:
        self._events: list[EventT[Any]] = []

    def __len__(self) -> int:
        return len(self._events)

    def hold(self, events: Iterable[EventT[Any]]) -> None:
        for event in events:
            event.message.incref()
            self._events.append(event)

    def release(self) -> None:
        """Drop the references held: the messages may be committed."""
        events, self._events = self._events, []
        for event in events:
            event.ack()

    def forget(self) -> None:
        """Drop the events without acknowledging them (their partitions were revoked: the
        next owner reads them again from the committed offset)."""
        self._events.clear()


class AgentsApp(faust.App):
    """A Faust app whose consumer is a :class:`RewindingConsumer`; ``endpoints`` serves the
    worker's ``/health`` and ``/metrics`` (None: not served); ``before_wait_empty`` writes a
    checkpoint and releases the :class:`HeldEvents` (None: nothing is held)."""

    logger = logging.getLogger("faust.app.base")
    endpoints: HealthServer | None = None
    before_wait_empty: Callable[[], Awaitable[None]] | None = None

    async def _consumer_wait_empty(self, consumer: ConsumerT, logger: Any) -> None:
        """Faust waits here, at a rebalance and at a stop, until every message handed to an
        agent is acknowledged: first the held ones are released."""
        if self.before_wait_empty is not None:
            await self.before_wait_empty()
        await super()._consumer_wait_empty(consumer, logger)

    def _new_consumer(self) -> ConsumerT:
        transport = self.transport
        return RewindingConsumer(
            transport, callback=self.topics.on_message,
            on_partitions_revoked=self._on_partitions_revoked,
            on_partitions_assigned=self._on_partitions_assigned,
            beacon=self.beacon, loop=transport.loop)
