"""The worker reads committed records only: what the API appended in a transaction it then
aborted (it answered with an error) never reaches an agent."""

from __future__ import annotations

import uuid
from pathlib import Path

from aiokafka import AIOKafkaProducer

from streams.events import MessageDeadLettered
from streams.topics import Topics
from tests.integration.agents_harness import (
    Collector,
    Worker,
    delete_app_topics,
    produce_raw,
    worker_env,
)
from tests.integration.conftest import StackEndpoints


async def _aborted(stack: StackEndpoints, topic: str, key: bytes, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap_servers,
                                transactional_id=f"tx-aborted-{uuid.uuid4()}")
    await producer.start()
    try:
        await producer.begin_transaction()
        await (await producer.send(topic, value, key=key))
        await producer.abort_transaction()
    finally:
        await producer.stop()


async def test_records_of_an_aborted_transaction_never_reach_the_agents(
        stack: StackEndpoints, topics: Topics, unique: str, tmp_path: Path) -> None:
    commands = topics.name("alert-commands")
    worker = Worker(worker_env(stack, topics, f"agents-{unique}", tmp_path / "data",
                               stall_after_s="5", session_timeout_s="6"),
                    tmp_path / "worker.log").start()
    try:
        # undecodable commands: aborted, committed, aborted again (last on the log). Each
        # that reached the alert agent would be dead-lettered.
        await _aborted(stack, commands, b"plant-a", b"aborted: not an event")
        await produce_raw(stack, commands, b"plant-a", b"committed: not an event")
        await _aborted(stack, commands, b"plant-a", b"aborted again: not an event")
        async with Collector(stack, topics, ["deadletter"]) as c:
            await c.wait_for(lambda c: bool(c.of(MessageDeadLettered)), worker, timeout=90,
                             what="the committed record's dead letter")
            # beyond what the group committed lie only the last aborted record and its
            # marker: the stall watch, reading as the worker does, finds nothing to read
            await c.wait_for(lambda _: worker.log().count('"stall_watch_markers_only"') >= 2,
                             worker, timeout=60, what="the stall watch looking past them")
            letters = c.of(MessageDeadLettered)
            assert [letter.payload_bytes() for letter in letters] == [
                b"committed: not an event"], letters
            assert '"agents_input_stalled' not in worker.log()
    finally:
        worker.stop()
        await delete_app_topics(stack, f"agents-{unique}")
