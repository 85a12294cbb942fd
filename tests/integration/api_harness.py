"""Shared by the API tests (no tests here): project real events into a fresh schema through
the projection store the projector uses, run the app with its lifespan, issue tokens."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import uvicorn
from fastapi import FastAPI

from api.app import create_app
from api.settings import ApiSettings
from api.tokens import Role, issue_token
from projections.store import Applied, ProjectionStore, RawMessage
from streams.codec import encode
from streams.events import (
    AlertOpened,
    AnomalyDetected,
    DetectorVote,
    DeviceStatus,
    DeviceStatusChanged,
    EdgeHeartbeat,
    EventBase,
    FeatureContribution,
    Quality,
    Reading,
    ScanRecorded,
    Severity,
    TagsConfigured,
    TagSpec,
)
from streams.settings import DatabaseSettings, KafkaSettings
from streams.topics import Topics
from tests.waiting import eventually_async

SECRET = "api-test-secret-" + "x" * 32
TAGS = ("gas.ch4", "gas.flow_chp", "gas.flow_flare", "chp.p_el", "chp.p_th", "chp.energy_el",
        "chp.run", "feed.solid_today", "feed.liquid_m3", "dig1.temp")


def token(role: Role, *plants: str, sub: str = "alice") -> str:
    return issue_token(SECRET, sub, role, plants, timedelta(hours=1))


def bearer(role: Role, *plants: str, sub: str = "alice") -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role, *plants, sub=sub)}"}


UNITS = {"gas.ch4": "vol %", "gas.flow_chp": "Nm³/h", "dig1.temp": "°C", "chp.p_el": "kW"}


def value_of(tag: str, i: int) -> float:
    """Deterministic values in the ranges of the simulator's default plant."""
    return {"gas.ch4": 52.0 + (i % 10) * 0.1, "gas.flow_chp": 240.0, "gas.flow_flare": 10.0,
            "chp.p_el": 500.0, "chp.p_th": 520.0, "chp.energy_el": 1000.0 + i * 500.0 / 60,
            "chp.run": 1.0, "feed.solid_today": i * 0.02, "feed.liquid_m3": i * 0.015,
            "dig1.temp": 38.0 + (i % 60) / 100}[tag]


@dataclass(frozen=True)
class PlantData:
    plant: str
    start: datetime
    minutes: int
    alert_id: uuid.UUID
    anomaly_id: uuid.UUID


def plant_events(plant: str, start: datetime, minutes: int) -> tuple[PlantData, list[EventBase]]:
    """One scan a minute of every tag in ``TAGS``, a degraded device, a heartbeat, an anomaly
    and an open warning alert."""
    boot = uuid.uuid4()
    events: list[EventBase] = []
    for i in range(minutes):
        events.append(ScanRecorded(
            plant_id=plant, edge_boot_id=boot, seq=i, device="plc", poll_group="fast",
            source_ts=start + timedelta(minutes=i),
            readings=tuple(Reading(tag=t, value=value_of(t, i), quality=Quality.GOOD)
                           for t in TAGS)))
    end = start + timedelta(minutes=minutes)
    events.append(DeviceStatusChanged(
        plant_id=plant, edge_boot_id=boot, seq=minutes, device="analyser",
        status=DeviceStatus.DEGRADED, previous=DeviceStatus.ONLINE, reason="2 of 5 failed",
        exception_code=2, changed_at=end))
    events.append(EdgeHeartbeat(
        plant_id=plant, edge_boot_id=boot, seq=minutes + 1, sent_at=end, journal_depth=0,
        journal_oldest_age_s=None, journal_bytes=0, dropped_total=0))
    events.append(TagsConfigured(
        plant_id=plant, edge_boot_id=boot, seq=minutes + 2, configured_at=start,
        config_sha256="0" * 64,
        tags=tuple(TagSpec(tag=t, device="plc", poll_group="fast", poll_interval_s=60.0,
                           unit=UNITS.get(t), min=0.0, max=1000.0) for t in TAGS)))
    anomaly_id, alert_id = uuid.uuid4(), uuid.uuid4()
    events.append(AnomalyDetected(
        plant_id=plant, anomaly_id=anomaly_id, tags=("gas.ch4",), event_time=end,
        detected_at=end, score=0.9, threshold=0.7,
        detectors=(DetectorVote(name="iforest", score=0.9, threshold=0.7, voted=True),),
        top_features=(FeatureContribution(name="gas.ch4.slope", value=-1.0,
                                          contribution=0.5),)))
    events.append(AlertOpened(
        alert_id=alert_id, plant_id=plant, severity=Severity.WARNING, tags=("gas.ch4",),
        title=f"CH4 falling at {plant}", opened_at=end, anomaly_ids=(anomaly_id,)))
    return PlantData(plant, start, minutes, alert_id, anomaly_id), events


class Projection:
    """Applies events to the live projection version like the projector does (offsets and
    rows in one transaction), from a made-up single-partition log."""

    def __init__(self, database: DatabaseSettings, log: str = "api-test-log") -> None:
        self._store = ProjectionStore(database)
        self._log = log
        self._offset = 0

    def apply(self, events: Sequence[EventBase]) -> None:
        tp = (self._log, 0)
        messages = [RawMessage(tp[0], 0, self._offset + i, encode(e))
                    for i, e in enumerate(events)]
        outcome = self._store.apply(self._store.live_prefix(), messages,
                                    {tp: self._offset or None}, must_be_live=True)
        assert isinstance(outcome, Applied), outcome
        self._offset += len(events)

    def close(self) -> None:
        self._store.close()


def fill(database: DatabaseSettings, events: Sequence[EventBase], *,
         log: str = "api-test-log") -> None:
    """Project ``events`` as if read from a partition of a made-up topic ``log`` (each call
    with the same ``log`` starts again at offset 0, so use a new name for each call)."""
    projection = Projection(database, log)
    try:
        projection.apply(events)
    finally:
        projection.close()


def recent_start(minutes: int) -> datetime:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return now - timedelta(minutes=minutes)


def settings_for(database: DatabaseSettings, kafka: KafkaSettings | None = None,
                 topics: Topics | None = None) -> ApiSettings:
    return ApiSettings(token_secret=SECRET, database=database,  # type: ignore[arg-type]
                       kafka=kafka or KafkaSettings(bootstrap_servers="127.0.0.1:1"),
                       topic_prefix=topics.prefix if topics else "", sse_keepalive_s=0.5)


@asynccontextmanager
async def client_for(settings: ApiSettings) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of the app with its lifespan running."""
    app = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
        yield client


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """The app behind a real uvicorn server on a free loopback port; yields its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False,
                            lifespan="on", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(), name="uvicorn")
    try:
        async def started() -> bool:
            return bool(server.started)

        await eventually_async(started, timeout=20, what="uvicorn to start")
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)

