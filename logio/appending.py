"""Append events to their catalogue topics and wait until the broker has every one.

For commands and tools that write a handful of events (deployments, drift alerts, test data);
the services have their own producers (the edge forwarder, the agents, the API's transactions).
aiokafka's errors are translated here into :class:`AppendError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from streams.codec import encode
from streams.errors import BiogasError
from streams.events import EventBase
from streams.settings import KafkaSettings
from streams.topics import Topics


class AppendError(BiogasError):
    """The broker did not take the events; the message names the broker and the fix."""


@asynccontextmanager
async def _producer(kafka: KafkaSettings, client_id: str | None, what: str,
                    **options: Any) -> AsyncIterator[AIOKafkaProducer]:
    """A started idempotent producer, stopped on the way out; the broker's refusal becomes an
    :class:`AppendError` naming ``what`` was refused and the fix."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers,
                                client_id=client_id or kafka.client_id, enable_idempotence=True,
                                **options)
    try:
        await producer.start()
        yield producer
    except KafkaError as exc:
        raise AppendError(f"the broker at {kafka.bootstrap_servers} refused {what} ({exc!r}); "
                          "check BIOGAS_KAFKA_BOOTSTRAP_SERVERS and that the topics exist "
                          "(biogas topics ensure)") from exc
    finally:
        await producer.stop()


async def append_tombstone(kafka: KafkaSettings, topic: str, key: bytes, *,
                           client_id: str | None = None) -> None:
    """Write a tombstone (a null value) under ``key``: compaction then removes the key."""
    async with _producer(kafka, client_id, f"a tombstone on {topic}") as producer:
        await producer.send_and_wait(topic, None, key=key)


async def append_events(kafka: KafkaSettings, topics: Topics, events: Iterable[EventBase], *,
                        client_id: str | None = None) -> None:
    """Send every event to its topic, keyed as the catalogue says (idempotent producer), and
    wait for all acknowledgements."""
    async with _producer(kafka, client_id, "the events", linger_ms=5) as producer:
        futures = [await producer.send(topics.topic_for(e).name, encode(e),
                                       key=topics.key_for(e)) for e in events]
        for future in futures:
            await future
