"""``GET /stream``: server-sent events of new anomalies and alert changes.

Each connection tails the anomalies, alerts and alert-commands topics with its own aiokafka
consumer (manual partition assignment, no consumer group, read-committed). Every event's id is
the position after it in every partition (``a:5,0,3|l:1,0,0|c:0,2,0``: next offsets of the
anomalies, alerts and alert-commands partitions), so a client that reconnects with
``Last-Event-ID`` resumes exactly after the last event it received, nothing lost or repeated.
Events of plants the token is not granted are never sent.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Annotated, Literal

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from api.auth import granted_plants, require
from api.db import Database
from api.errors import ApiProblemError, problem_responses
from api.params import PlantFilter, check_plants
from api.permissions import Permission
from api.settings import ApiSettings
from api.tokens import Principal
from streams.codec import decode
from streams.errors import ContractError
from streams.events import AlertOpened, AlertUpdated, AnomalyDetected, Event, Severity
from streams.logsetup import get_logger
from streams.topics import Stream, Topics

router = APIRouter(tags=["stream"])
log = get_logger("api.stream")
_STREAMS = {"a": Stream.ANOMALIES, "l": Stream.ALERTS, "c": Stream.ALERT_COMMANDS}
_POSITION = re.compile(r"^[alc]:\d{1,18}(,\d{1,18}){0,99}(\|[alc]:\d{1,18}(,\d{1,18}){0,99}){0,2}$")
_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}
Kind = Literal["anomalies", "alerts"]


def parse_position(text: str) -> dict[tuple[str, int], int]:
    """``{(stream key, partition): next offset}`` from an event id; 422 when malformed."""
    if not _POSITION.match(text):
        raise ApiProblemError(422, "Invalid Last-Event-ID",
                              "send back the id of an event of this stream unchanged")
    position: dict[tuple[str, int], int] = {}
    for part in text.split("|"):
        key, _, offsets = part.partition(":")
        for partition, offset in enumerate(offsets.split(",")):
            position[(key, partition)] = int(offset)
    return position


def format_position(position: dict[tuple[str, int], int]) -> str:
    parts = []
    for key in _STREAMS:
        offsets = [position[(k, p)] for (k, p) in sorted(position) if k == key]
        parts.append(f"{key}:{','.join(str(o) for o in offsets)}")
    return "|".join(parts)


class _Filter:
    def __init__(self, plants: list[str] | None, min_severity: Severity | None,
                 kinds: set[str], db: Database) -> None:
        self._plants = None if plants is None else set(plants)
        self._min = min_severity
        self._kinds = kinds
        self._db = db
        self._severity: dict[str, Severity | None] = {}

    async def passes(self, event: Event) -> bool:
        plant = getattr(event, "plant_id", None)
        if plant is None or (self._plants is not None and plant not in self._plants):
            return False
        if isinstance(event, AnomalyDetected):
            return "anomalies" in self._kinds
        if "alerts" not in self._kinds:
            return False
        alert_id = str(event.alert_id)  # type: ignore[union-attr]
        if isinstance(event, AlertOpened | AlertUpdated):
            self._severity[alert_id] = event.severity
        if self._min is None:
            return True
        if alert_id not in self._severity:
            row = await self._db.fetch_one("SELECT severity FROM alerts WHERE alert_id = %s",
                                           (alert_id,))
            found = row["severity"] if row else None
            self._severity[alert_id] = Severity(found) if found else None
        severity = self._severity[alert_id]
        return severity is not None and _RANK[severity] >= _RANK[self._min]


async def _tail(consumer: AIOKafkaConsumer, topics: Topics,
                resume: dict[tuple[str, int], int] | None, start: str, keepalive_s: float,
                keep: _Filter) -> AsyncIterator[bytes]:
    try:
        key_of = {topics.name(stream): key for key, stream in _STREAMS.items()}
        await consumer.topics()  # refresh the metadata of every topic
        tps = [TopicPartition(name, p) for name in key_of
               for p in sorted(consumer.partitions_for_topic(name)
                               or range(topics.by_name(name).partitions))]
        consumer.assign(tps)
        for tp in tps:
            offset = None if resume is None else resume.get((key_of[tp.topic], tp.partition))
            if offset is not None:
                consumer.seek(tp, offset)
            elif resume is not None or start == "earliest":
                await consumer.seek_to_beginning(tp)
            else:
                await consumer.seek_to_end(tp)
        position = {(key_of[tp.topic], tp.partition): await consumer.position(tp) for tp in tps}
        yield f"retry: 2000\nid: {format_position(position)}\n: connected\n\n".encode()
        while True:
            batches = await consumer.getmany(timeout_ms=int(keepalive_s * 1000),
                                             max_records=500)
            if not batches:
                yield b": keepalive\n\n"
                continue
            for tp, records in sorted(batches.items()):
                for record in records:
                    position[(key_of[tp.topic], tp.partition)] = record.offset + 1
                    try:
                        event = decode(record.value or b"")
                    except ContractError:
                        continue
                    if await keep.passes(event):
                        data = orjson.dumps(event.model_dump(mode="json")).decode()
                        yield (f"id: {format_position(position)}\nevent: {event.event_type}\n"
                               f"data: {data}\n\n").encode()
    except KafkaError as exc:
        log.warning("stream_broken", error=repr(exc)[:300])
    finally:
        await consumer.stop()


@router.get("/stream", responses={
    200: {"content": {"text/event-stream": {}},
          "description": "Server-sent events: `anomaly_detected`, `alert_opened`, "
                         "`alert_updated`, `alert_acknowledged`, `alert_commented`, "
                         "`alert_cleared`; data is the event as JSON."},
    **problem_responses()})
async def stream(
        request: Request,
        principal: Annotated[Principal, Depends(require(Permission.READ_ALERTS))],
        plant: PlantFilter = None,
        min_severity: Annotated[Severity | None, Query(
            description="Only alert events of alerts at least this severe (anomalies are not "
                        "affected).")] = None,
        kind: Annotated[list[Kind] | None, Query(description="anomalies and/or alerts")] = None,
        start: Annotated[Literal["latest", "earliest"], Query(
            description="Where a stream without Last-Event-ID begins.")] = "latest",
        last_event_id: Annotated[str | None, Header(max_length=2000)] = None,
) -> StreamingResponse:
    """New anomalies and alert changes of the granted plants, as they are appended to the log;
    reconnect with ``Last-Event-ID`` to resume exactly after the last event received."""
    plants = granted_plants(principal, check_plants(plant))
    resume = parse_position(last_event_id) if last_event_id else None
    settings: ApiSettings = request.app.state.settings
    topics: Topics = request.app.state.topics
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        client_id=f"{settings.kafka.client_id}-api-sse", group_id=None,
        enable_auto_commit=False, isolation_level="read_committed")
    try:
        await asyncio.wait_for(consumer.start(), 10)
    except (KafkaError, TimeoutError, OSError) as exc:
        await consumer.stop()
        raise ApiProblemError(503, "Log unavailable", "cannot reach the log; retry later",
                              headers={"Retry-After": "5"}) from exc
    keep = _Filter(plants, min_severity, set(kind or ("anomalies", "alerts")),
                   request.app.state.db)
    log.info("stream_opened", actor=principal.sub, plants=plants, resume=resume is not None)
    return StreamingResponse(
        _tail(consumer, topics, resume, start, settings.sse_keepalive_s, keep),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
