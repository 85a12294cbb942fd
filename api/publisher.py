"""Commands leave the API as events on the log: one idempotent Kafka producer per process."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from api.errors import ApiProblemError
from streams.codec import encode
from streams.events import EventBase
from streams.logsetup import get_logger
from streams.settings import KafkaSettings
from streams.topics import Topics

log = get_logger("api.publisher")
_START_TIMEOUT_S = 10.0
_SEND_TIMEOUT_S = 15.0


class CommandPublisher:
    """Appends command events to their topics. Created in the app lifespan; the producer starts
    on first use (and again after a failure), so reads keep working while the broker is down."""

    def __init__(self, settings: KafkaSettings, topics: Topics) -> None:
        self._settings = settings
        self._topics = topics
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self._send_lock = asyncio.Lock()

    async def _ready(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is not None:
                return self._producer
            producer = AIOKafkaProducer(
                bootstrap_servers=self._settings.bootstrap_servers,
                client_id=f"{self._settings.client_id}-api", enable_idempotence=True, acks="all",
                transactional_id=f"biogas-api-{uuid.uuid4()}",
                request_timeout_ms=int(_SEND_TIMEOUT_S * 1000))
            try:
                await asyncio.wait_for(producer.start(), _START_TIMEOUT_S)
            except (KafkaError, TimeoutError, OSError) as exc:
                await producer.stop()
                log.warning("producer_unavailable", error=repr(exc)[:300])
                raise _unavailable() from exc
            self._producer = producer
            return producer

    async def publish(self, events: Sequence[EventBase]) -> None:
        """Append ``events`` (each to its topic, keyed by plant) in one Kafka transaction: all
        of them become visible to read-committed consumers, or none."""
        producer = await self._ready()
        try:
            async with self._send_lock:
                await asyncio.wait_for(self._transaction(producer, events), _SEND_TIMEOUT_S)
        except (KafkaError, TimeoutError) as exc:
            log.warning("publish_failed", error=repr(exc)[:300], events=len(events))
            async with self._lock:  # a broken transactional producer is replaced
                broken, self._producer = self._producer, None
                if broken is not None:
                    await broken.stop()
            raise _unavailable() from exc

    async def _transaction(self, producer: AIOKafkaProducer, events: Sequence[EventBase]
                           ) -> None:
        async with producer.transaction():
            futures = [await producer.send(self._topics.topic_for(e).name, encode(e),
                                           key=self._topics.key_for(e)) for e in events]
        await asyncio.gather(*futures)

    async def close(self) -> None:
        async with self._lock:
            if self._producer is not None:
                await self._producer.stop()
                self._producer = None


def _unavailable() -> ApiProblemError:
    return ApiProblemError(503, "Log unavailable",
                           "the command could not be appended to the log; retry later",
                           headers={"Retry-After": "5"})
