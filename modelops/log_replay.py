"""Read a topic of the log from its beginning to the end offsets seen at start, outside any
consumer group (training from the log, shadow reports); aiokafka errors are translated here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from modelops.errors import ModelOpsError
from streams.settings import KafkaSettings

Advance = Callable[[int], object]


async def replay_topic(kafka: KafkaSettings, topic: str, partitions: int, *, client_id: str,
                       advance: Advance | None = None) -> AsyncIterator[bytes | None]:
    """Every record's value, partition by partition as fetched; ``advance(n)`` after each
    fetched batch of ``n`` records (a progress bar)."""
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, group_id=None,
                                client_id=client_id, enable_auto_commit=False)
    try:
        await consumer.start()
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        pending = {tp for tp in tps if end[tp] > 0}
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=1000)
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= end[tp] - 1:
                        pending.discard(tp)
                    yield record.value
                if advance is not None:
                    advance(len(records))
    except KafkaError as exc:
        raise ModelOpsError(f"cannot read {topic} from {kafka.bootstrap_servers}: "
                            f"{exc!r}") from exc
    finally:
        await consumer.stop()
