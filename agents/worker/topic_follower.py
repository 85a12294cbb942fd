"""Read a whole topic from the beginning, outside any consumer group, and keep following it:
what every worker must know whichever partitions it holds (model deployments, the plants'
tag catalogues). ``ready`` is set once the records present at start have been applied.
aiokafka errors are translated here and retried with backoff.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from agents.deadletter import Position
from agents.errors import AgentsError
from streams.logsetup import get_logger
from streams.settings import KafkaSettings

log = get_logger("agents.follower")
MAX_BACKOFF_S = 10.0
Apply = Callable[[Position, bytes | None, bytes | None], Awaitable[None]]


class TopicUnavailableError(AgentsError):
    """A followed topic cannot be read from the broker."""


class TopicFollower:
    """Applies every record of ``topic`` with ``apply``, from the beginning, for ever."""

    def __init__(self, kafka: KafkaSettings, topic: str, partitions: int, apply: Apply, *,
                 name: str, on_ready: Callable[[], None] = lambda: None) -> None:
        self.kafka, self.topic, self.partitions = kafka, topic, partitions
        self.apply, self.name, self.on_ready = apply, name, on_ready
        self.ready = asyncio.Event()

    async def run(self) -> None:
        """Follow the topic until cancelled, reconnecting with backoff."""
        backoff = 0.5
        while True:
            try:
                await self._follow()
            except TopicUnavailableError as exc:
                log.warning(f"{self.name}_unavailable", error=str(exc), retry_in_s=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.kafka.bootstrap_servers,
                                    client_id=f"{self.kafka.client_id}-{self.name}",
                                    group_id=None, enable_auto_commit=False)
        tps = [TopicPartition(self.topic, p) for p in range(self.partitions)]
        try:
            await consumer.start()
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            end = await consumer.end_offsets(tps)
            # The last offset before the end seen at start: reaching it means every record up
            # to the start is applied (compaction keeps a partition's last record).
            pending = {tp.partition: end[tp] - 1 for tp in tps if end[tp] > 0}
            while True:
                if not self.ready.is_set() and not pending:
                    self.ready.set()
                    self.on_ready()
                batches = await consumer.getmany(timeout_ms=500)
                for tp, records in batches.items():
                    for record in records:
                        await self.apply(Position(tp.topic, tp.partition, record.offset),
                                         record.key, record.value)
                        if pending.get(tp.partition, -1) <= record.offset:
                            pending.pop(tp.partition, None)
        except KafkaError as exc:
            raise TopicUnavailableError(f"{self.topic}: {exc!r}") from exc
        finally:
            await consumer.stop()
