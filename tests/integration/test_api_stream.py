"""The live stream over a real uvicorn server and the real broker: only granted plants, the
severity filter, and an exact resume from Last-Event-ID after a disconnect."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from api.app import create_app
from api.tokens import Role
from streams.codec import encode
from streams.events import AlertOpened, AnomalyDetected, EventBase, Severity
from streams.settings import DatabaseSettings
from streams.topics import Topics
from tests.integration.api_harness import bearer, served, settings_for
from tests.integration.conftest import StackEndpoints

pytestmark = pytest.mark.integration


def anomaly(plant: str) -> AnomalyDetected:
    now = datetime.now(UTC)
    return AnomalyDetected(plant_id=plant, anomaly_id=uuid.uuid4(), tags=("gas.ch4",),
                           event_time=now, detected_at=now, score=0.9, threshold=0.5,
                           detectors=(), top_features=())


def opened(plant: str, severity: Severity) -> AlertOpened:
    a = anomaly(plant)
    return AlertOpened(alert_id=uuid.uuid4(), plant_id=plant, severity=severity,
                       tags=("gas.ch4",), title="t", opened_at=a.detected_at,
                       anomaly_ids=(a.anomaly_id,))


async def produce(stack: StackEndpoints, topics: Topics, events: Sequence[EventBase]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(topics.topic_for(event).name, encode(event),
                                         key=topics.key_for(event))
    finally:
        await producer.stop()


class Sse:
    """Reads server-sent events from a streaming response."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()
        self.last_id: str | None = None

    async def next(self) -> dict[str, str]:
        fields: dict[str, str] = {}
        async for line in self._lines:
            if not line:
                if "id" in fields:
                    self.last_id = fields["id"]
                if "data" in fields or "connected" in fields:
                    return fields
                fields = {}
                continue
            if line.startswith(":"):
                if "connected" in line:
                    fields["connected"] = ""
                continue
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        raise AssertionError("stream ended")


@asynccontextmanager
async def stream(client: httpx.AsyncClient, headers: dict[str, str],
                 params: dict[str, str]) -> AsyncIterator[Sse]:
    async with client.stream("GET", "/stream", headers=headers, params=params,
                             timeout=httpx.Timeout(30)) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        sse = Sse(response)
        hello = await sse.next()
        assert "connected" in hello and sse.last_id
        yield sse


async def test_stream_filters_plants_and_severity_and_resumes_exactly(
        stack: StackEndpoints, database: DatabaseSettings, topics: Topics) -> None:
    app = create_app(settings_for(database, stack.kafka, topics))
    token_a = bearer(Role.OPERATOR, "plant-a")
    first, hidden_b = anomaly("plant-a"), anomaly("plant-b")
    info, critical = opened("plant-a", Severity.INFO), opened("plant-a", Severity.CRITICAL)
    later_a, later_b = anomaly("plant-a"), anomaly("plant-a")
    later: list[EventBase] = [later_a, opened("plant-b", Severity.CRITICAL), later_b]
    async with served(app) as url, httpx.AsyncClient(base_url=url) as client:
        async with stream(client, token_a, {"min_severity": "warning"}) as sse:
            await produce(stack, topics, [first, hidden_b, info, critical])
            got = [await sse.next(), await sse.next()]
            assert [g["event"] for g in got] == ["anomaly_detected", "alert_opened"]
            assert orjson.loads(got[0]["data"])["anomaly_id"] == str(first.anomaly_id)
            assert orjson.loads(got[1]["data"])["alert_id"] == str(critical.alert_id)
            resume_from = sse.last_id
        assert resume_from
        await produce(stack, topics, later)
        headers = token_a | {"Last-Event-ID": resume_from}
        async with stream(client, headers, {}) as sse:
            again = [await sse.next(), await sse.next()]
            ids = [orjson.loads(g["data"])["anomaly_id"] for g in again]
            assert ids == [str(later_a.anomaly_id), str(later_b.anomaly_id)]
        r = await client.get("/stream", headers=token_a | {"Last-Event-ID": "nonsense"})
        assert r.status_code == 422 and "Last-Event-ID" in r.json()["title"]
