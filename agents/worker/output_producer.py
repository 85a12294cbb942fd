"""The agents' outputs (features, anomalies, alerts, dead letters) go out through one plain
aiokafka producer: idempotent, ``acks=all``, large batches.

Faust's producer stays in charge of the tables' changelogs. Every send returns the broker's
acknowledgement as an awaitable; the detect worker awaits them before it snapshots and
acknowledges its input, so nothing is acknowledged that is not on the log. The producer starts
on first use and stops after Faust stopped its consumer (``on_before_shutdown``), so the last
flush during shutdown can still publish.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from aiokafka import AIOKafkaProducer

from streams.settings import KafkaSettings

#: room for a minute's features of a poll group (~2 KB each) in one batch: with aiokafka's
#: default of 16 KB a send waits for each full batch to be sent first
BATCH_BYTES = 1 << 20


class OutputProducer:
    """Starts on first use; :meth:`publish` matches :class:`agents.detect_worker.Publish`."""

    def __init__(self, kafka: KafkaSettings, *, linger_s: float, client_id: str) -> None:
        self.kafka, self.linger_s, self.client_id = kafka, linger_s, client_id
        self._producer: AIOKafkaProducer | None = None
        self._starting = asyncio.Lock()

    async def _started(self) -> AIOKafkaProducer:
        async with self._starting:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self.kafka.bootstrap_servers, client_id=self.client_id,
                    acks="all", enable_idempotence=True, linger_ms=int(self.linger_s * 1000),
                    max_batch_size=BATCH_BYTES, max_request_size=BATCH_BYTES)
                await producer.start()
                self._producer = producer
            return self._producer

    async def publish(self, topic: str, key: bytes, value: bytes | None,
                      partition: int | None = None) -> Awaitable[object]:
        producer = self._producer or await self._started()
        fut: Awaitable[object] = await producer.send(topic, value, key=key, partition=partition)
        return fut

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()
