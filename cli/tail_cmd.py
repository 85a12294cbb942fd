"""``biogas tail``: the events of a topic as JSON lines, decoded by the contract."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Annotated, TextIO

import orjson
import typer
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from streams.codec import decode
from streams.errors import ContractError
from streams.events import EventBase
from streams.settings import KafkaSettings
from streams.topics import Stream, Topics


class TailError(Exception):
    """The topic cannot be read; the message names the fix."""


def topic_name(topic: str, prefix: str) -> str:
    """A stream of the catalogue (``anomalies``) under ``prefix``, or a full topic name."""
    return Topics(prefix=prefix).name(topic) if topic in {s.value for s in Stream} else topic


def render(event: EventBase, topic: str, partition: int, offset: int, key: bytes | None,
           meta: bool) -> str:
    """One output line: the event as the contract writes it, or (``meta``) wrapped with where
    it lies on the log."""
    body = event.model_dump(mode="json")
    if meta:
        body = {"topic": topic, "partition": partition, "offset": offset,
                "key": None if key is None else key.decode(errors="replace"), "event": body}
    return orjson.dumps(body).decode()


async def tail(kafka: KafkaSettings, topic: str, *, from_beginning: bool, count: int | None,
               plant: str | None, idle_s: float | None, meta: bool, out: TextIO,
               err: TextIO) -> int:
    """Print the topic's events until ``count`` were printed or nothing came for ``idle_s``
    (None: until interrupted); the number printed. Records the contract cannot decode are
    named on ``err`` and skipped."""
    # no consumer group: every partition, from the oldest or the next offset
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, group_id=None,
                                enable_auto_commit=False, isolation_level="read_committed",
                                auto_offset_reset="earliest" if from_beginning else "latest",
                                client_id=f"{kafka.client_id}-tail")
    try:
        await consumer.start()
    except KafkaError as exc:
        raise TailError(f"cannot reach the broker at {kafka.bootstrap_servers} ({exc!r}); "
                        "set BIOGAS_KAFKA_BOOTSTRAP_SERVERS") from exc
    printed = 0
    try:
        if topic not in await consumer.topics():
            raise TailError(f"no topic {topic!r} on the broker; 'biogas topics list' shows the "
                            "catalogue's names, 'biogas topics ensure' creates them")
        consumer.subscribe([topic])
        quiet_since = time.monotonic()
        while count is None or printed < count:
            batch = await consumer.getmany(timeout_ms=250)
            if not batch:
                if idle_s is not None and time.monotonic() - quiet_since >= idle_s:
                    break
                continue
            quiet_since = time.monotonic()
            for tp, records in batch.items():
                for record in records:
                    try:
                        event = decode(record.value or b"")
                    except ContractError as exc:
                        err.write(f"skipped {tp.topic}:{tp.partition}@{record.offset}: {exc}\n")
                        continue
                    if plant is not None and getattr(event, "plant_id", None) != plant:
                        continue
                    out.write(render(event, tp.topic, tp.partition, record.offset, record.key,
                                     meta) + "\n")
                    out.flush()
                    printed += 1
                    if count is not None and printed >= count:
                        return printed
    finally:
        await consumer.stop()
    return printed


def tail_command(
    topic: Annotated[str, typer.Argument(
        help="A stream of the catalogue (scans, anomalies, alerts, deadletter ...) or a full "
             "topic name.")],
    prefix: Annotated[str, typer.Option(help="The catalogue's topic-name prefix.")] = "",
    from_beginning: Annotated[bool, typer.Option(
        "--from-beginning/--from-end",
        help="Start at the oldest event kept, or (default) with the next one appended.")]
    = False,
    count: Annotated[int | None, typer.Option(min=1, help="Stop after this many events.")]
    = None,
    plant: Annotated[str | None, typer.Option(help="Only events of this plant.")] = None,
    idle: Annotated[float | None, typer.Option(
        min=0.0, help="Stop once no event came for this many seconds.")] = None,
    meta: Annotated[bool, typer.Option(
        help="Wrap each event with its topic, partition, offset and key.")] = False,
) -> None:
    """Print the events of a topic as JSON lines (decoded and upcast by the contract) until
    interrupted (BIOGAS_KAFKA_*)."""
    try:
        asyncio.run(tail(KafkaSettings(), topic_name(topic, prefix),
                         from_beginning=from_beginning, count=count, plant=plant,
                         idle_s=idle, meta=meta, out=sys.stdout, err=sys.stderr))
    except TailError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:  # Ctrl-C
        pass
    except BrokenPipeError:  # the reader (head) went away: nothing more to flush to it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
