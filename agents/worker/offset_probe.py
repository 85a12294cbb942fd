"""Read a consumer group's committed offsets and the log's first and next offsets from the
broker, with clients of its own (not the worker's consumer, which may be the thing stuck),
and whether a partition holds anything a consumer would receive between two offsets: a
partition written in transactions ends with a commit marker, which takes an offset but is
never delivered, so "committed < end" alone is no proof of unread records.

aiokafka errors are translated here into :class:`OffsetsUnavailableError`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from agents.errors import AgentsError
from agents.worker.stall_watch import Offsets, Partition
from streams.settings import KafkaSettings

REQUEST_TIMEOUT_MS = 10_000
#: how long :meth:`BrokerOffsets.consumable` reads before it answers "cannot tell"
CONSUMABLE_TIMEOUT_S = 5.0


class OffsetsUnavailableError(AgentsError):
    """The broker did not answer with the offsets asked for."""


class BrokerOffsets:
    """Offsets of ``group_id`` on the broker; :meth:`start` once, :meth:`stop` at the end."""

    def __init__(self, kafka: KafkaSettings, group_id: str) -> None:
        self.kafka, self.group_id = kafka, group_id
        self._clients: tuple[AIOKafkaAdminClient, AIOKafkaConsumer, AIOKafkaConsumer] | None \
            = None

    async def start(self) -> None:
        """Connect (made here, in the running loop: aiokafka clients belong to one)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.kafka.bootstrap_servers,
                                    client_id=f"{self.kafka.client_id}-stall-watch",
                                    request_timeout_ms=REQUEST_TIMEOUT_MS)
        # both read as the worker's consumer does (committed records only,
        # agents/faust_consumer.py): the log's end is its last stable offset (a transaction
        # still open is not yet there to read), and the reader skips aborted records and
        # commit and abort markers
        logs = AIOKafkaConsumer(bootstrap_servers=self.kafka.bootstrap_servers,
                                client_id=f"{self.kafka.client_id}-stall-watch",
                                group_id=None, enable_auto_commit=False,
                                isolation_level="read_committed",
                                request_timeout_ms=REQUEST_TIMEOUT_MS)
        reader = AIOKafkaConsumer(bootstrap_servers=self.kafka.bootstrap_servers,
                                  client_id=f"{self.kafka.client_id}-stall-watch",
                                  group_id=None, enable_auto_commit=False,
                                  auto_offset_reset="none", max_partition_fetch_bytes=65536,
                                  isolation_level="read_committed",
                                  request_timeout_ms=REQUEST_TIMEOUT_MS)
        try:
            await admin.start()
            await logs.start()
            await reader.start()
        except KafkaError as exc:
            await reader.stop()
            await logs.stop()
            await admin.close()
            raise OffsetsUnavailableError(f"cannot reach the broker: {exc!r}") from exc
        self._clients = admin, logs, reader

    async def stop(self) -> None:
        if self._clients is not None:
            admin, logs, reader = self._clients
            self._clients = None
            await reader.stop()
            await logs.stop()
            await admin.close()

    async def consumable(self, partition: Partition, offset: int, end: int,
                         timeout_s: float = CONSUMABLE_TIMEOUT_S) -> bool:
        """Whether ``partition`` holds a record a consumer would receive at or after
        ``offset`` and before ``end``. False when only transaction markers (or nothing) lie
        there; True when a record does, or when the broker did not say within ``timeout_s``
        (a stall cannot be ruled out)."""
        if offset >= end:
            return False
        if self._clients is None:
            await self.start()
        assert self._clients is not None
        reader = self._clients[2]
        tp = TopicPartition(partition.topic, partition.partition)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        try:
            reader.assign([tp])
            reader.seek(tp, offset)
            while loop.time() < deadline:
                got = await reader.getmany(tp, timeout_ms=500, max_records=1)
                if any(record.offset < end for record in got.get(tp, ())):
                    return True
                if got.get(tp) or await reader.position(tp) >= end:
                    return False
        except KafkaError as exc:
            raise OffsetsUnavailableError(
                f"records of {partition} from {offset}: {exc!r}") from exc
        return True

    async def offsets(self, partitions: Iterable[Partition]) -> Mapping[Partition, Offsets]:
        tps = {TopicPartition(p.topic, p.partition): p for p in partitions}
        if not tps:
            return {}
        if self._clients is None:
            await self.start()
        assert self._clients is not None
        admin, logs, _ = self._clients
        try:
            committed = await admin.list_consumer_group_offsets(self.group_id,
                                                                partitions=list(tps))
            starts = await logs.beginning_offsets(list(tps))
            ends = await logs.end_offsets(list(tps))
        except KafkaError as exc:
            raise OffsetsUnavailableError(
                f"offsets of group {self.group_id}: {exc!r}") from exc
        found = {}
        for tp, partition in tps.items():
            meta = committed.get(tp)
            found[partition] = Offsets(committed=-1 if meta is None else meta.offset,
                                       start=starts[tp], end=ends[tp])
        return found
