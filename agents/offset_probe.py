"""Read a consumer group's committed offsets and the log's first and next offsets from the
broker, with clients of its own (not the worker's consumer, which may be the thing stuck).

aiokafka errors are translated here into :class:`OffsetsUnavailableError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from agents.errors import AgentsError
from agents.stall_watch import Offsets, Partition
from streams.settings import KafkaSettings

REQUEST_TIMEOUT_MS = 10_000


class OffsetsUnavailableError(AgentsError):
    """The broker did not answer with the offsets asked for."""


class BrokerOffsets:
    """Offsets of ``group_id`` on the broker; :meth:`start` once, :meth:`stop` at the end."""

    def __init__(self, kafka: KafkaSettings, group_id: str) -> None:
        self.kafka, self.group_id = kafka, group_id
        self._clients: tuple[AIOKafkaAdminClient, AIOKafkaConsumer] | None = None

    async def start(self) -> None:
        """Connect (made here, in the running loop: aiokafka clients belong to one)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.kafka.bootstrap_servers,
                                    client_id=f"{self.kafka.client_id}-stall-watch",
                                    request_timeout_ms=REQUEST_TIMEOUT_MS)
        logs = AIOKafkaConsumer(bootstrap_servers=self.kafka.bootstrap_servers,
                                client_id=f"{self.kafka.client_id}-stall-watch",
                                group_id=None, enable_auto_commit=False,
                                request_timeout_ms=REQUEST_TIMEOUT_MS)
        try:
            await admin.start()
            await logs.start()
        except KafkaError as exc:
            await logs.stop()
            await admin.close()
            raise OffsetsUnavailableError(f"cannot reach the broker: {exc!r}") from exc
        self._clients = admin, logs

    async def stop(self) -> None:
        if self._clients is not None:
            admin, logs = self._clients
            self._clients = None
            await logs.stop()
            await admin.close()

    async def offsets(self, partitions: Iterable[Partition]) -> Mapping[Partition, Offsets]:
        tps = {TopicPartition(p.topic, p.partition): p for p in partitions}
        if not tps:
            return {}
        if self._clients is None:
            await self.start()
        assert self._clients is not None
        admin, logs = self._clients
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
