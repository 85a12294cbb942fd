"""Every event type through the codec on the real broker; idempotent and transactional produce."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.codec import decode, encode
from streams.events import EVENT_TYPES
from streams.topics import Topics
from tests.examples import example_events
from tests.integration.conftest import StackEndpoints
from tests.waiting import eventually_async


@asynccontextmanager
async def consumer(stack: StackEndpoints, group: str, *topic_names: str,
                   isolation_level: str = "read_uncommitted") -> AsyncIterator[AIOKafkaConsumer]:
    cons = AIOKafkaConsumer(*topic_names, bootstrap_servers=stack.bootstrap_servers,
                            group_id=group, auto_offset_reset="earliest",
                            enable_auto_commit=False, isolation_level=isolation_level)
    await cons.start()
    try:
        yield cons
    finally:
        await cons.stop()


async def drain(cons: AIOKafkaConsumer, want: int, timeout: float = 30) -> list[bytes]:
    got: list[bytes] = []

    async def enough() -> bool:
        batches = await cons.getmany(timeout_ms=200)
        for records in batches.values():
            got.extend(r.value for r in records if r.value is not None)
        return len(got) >= want

    await eventually_async(enough, timeout=timeout, what=f"{want} messages to arrive")
    return got


async def test_every_event_type_round_trips_through_the_broker(
        stack: StackEndpoints, topics: Topics, group_id: str) -> None:
    events = example_events()
    assert {e.event_type for e in events} == set(EVENT_TYPES)
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap_servers,
                                enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for event in events:
            spec = topics.topic_for(event)
            await producer.send_and_wait(spec.name, encode(event), key=topics.key_for(event))
    finally:
        await producer.stop()
    names = sorted({topics.topic_for(e).name for e in events})
    async with consumer(stack, group_id, *names) as cons:
        raw = await drain(cons, len(events))
    decoded = sorted((decode(value) for value in raw), key=lambda e: str(e.event_id))
    assert decoded == sorted(events, key=lambda e: str(e.event_id))


async def test_plant_keyed_events_keep_order_in_one_partition(
        stack: StackEndpoints, topics: Topics, group_id: str) -> None:
    scan = next(e for e in example_events() if e.event_type == "scan_recorded")
    scans = [scan.model_copy(update={"seq": n, "event_id": uuid.uuid4()}) for n in range(200)]
    spec = topics["scans"]
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap_servers,
                                enable_idempotence=True, acks="all")
    await producer.start()
    try:
        partitions = set()
        for event in scans:
            meta = await producer.send(spec.name, encode(event), key=topics.key_for(event))
            partitions.add((await meta).partition)
    finally:
        await producer.stop()
    assert len(partitions) == 1
    async with consumer(stack, group_id, spec.name) as cons:
        raw = await drain(cons, len(scans))
    assert [decode(v).seq for v in raw] == list(range(200))  # type: ignore[union-attr]


async def test_transactional_produce_then_commit(
        stack: StackEndpoints, topics: Topics, group_id: str) -> None:
    """Committed transactions are visible to read_committed consumers, aborted ones never are;
    consumed offsets committed inside the transaction move with it."""
    events = [e for e in example_events() if e.event_type == "lab_result_recorded"]
    spec = topics["lab-results"]
    txn_id = f"txn-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap_servers,
                                transactional_id=txn_id, enable_idempotence=True)
    await producer.start()
    try:
        async with producer.transaction():
            for event in events:
                await producer.send(spec.name, encode(event), key=topics.key_for(event))
        aborted = events[0].model_copy(update={"sample_id": "aborted", "event_id": uuid.uuid4()})
        await producer.begin_transaction()
        await producer.send(spec.name, encode(aborted), key=topics.key_for(aborted))
        await producer.abort_transaction()
        committed_after = events[0].model_copy(update={"sample_id": "after",
                                                       "event_id": uuid.uuid4()})
        async with producer.transaction():
            await producer.send(spec.name, encode(committed_after),
                                key=topics.key_for(committed_after))
            await producer.send_offsets_to_transaction(
                {TopicPartition(spec.name, 0): 1}, group_id)
    finally:
        await producer.stop()
    async with consumer(stack, group_id, spec.name, isolation_level="read_committed") as cons:
        # The offset committed inside the transaction (1) is where this group resumes. The
        # coordinator writes the commit markers after EndTxn returns, so wait for it.
        async def offset_committed() -> bool:
            return bool(await cons.committed(TopicPartition(spec.name, 0)) == 1)

        await eventually_async(offset_committed, timeout=30,
                               what="the transaction's offset commit to become visible")
    async with consumer(stack, f"{group_id}-all", spec.name,
                        isolation_level="read_committed") as cons:
        raw = await drain(cons, len(events) + 1)
        extra = await cons.getmany(timeout_ms=500)
    samples = [decode(v).sample_id for v in raw]  # type: ignore[union-attr]
    assert "aborted" not in samples
    assert samples[-1] == "after"
    assert not any(extra.values())


async def test_idempotent_producer_writes_each_message_once(
        stack: StackEndpoints, topics: Topics, group_id: str) -> None:
    spec = topics["heartbeats"]
    heartbeat = next(e for e in example_events() if e.event_type == "edge_heartbeat")
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap_servers,
                                enable_idempotence=True, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(spec.name, encode(heartbeat.model_copy(
            update={"seq": n, "event_id": uuid.uuid4()})), key=topics.key_for(heartbeat))
            for n in range(500)]
        offsets = sorted([(await f).offset for f in futures])
    finally:
        await producer.stop()
    assert offsets == list(range(500))
    async with consumer(stack, group_id, spec.name) as cons:
        raw = await drain(cons, 500)
    assert sorted(decode(v).seq for v in raw) == list(range(500))  # type: ignore[union-attr]
