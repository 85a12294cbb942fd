"""Access control on every route, for every role: the permission matrix decides, every query is
scoped to the token's plants (a plant-a token never sees plant-b by any route), and only
/health, /metrics and the overview page's static shell answer without a token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.permissions import MATRIX, Permission
from api.tokens import Role
from streams.settings import DatabaseSettings
from streams.topics import Topics
from tests.integration.api_harness import (
    PlantData,
    bearer,
    client_for,
    fill,
    plant_events,
    recent_start,
    settings_for,
)
from tests.integration.conftest import StackEndpoints

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # {plant} and {alert} are filled in
    permission: Permission | None
    body: dict[str, Any] | None = None
    files: dict[str, Any] | None = None
    params: dict[str, Any] | None = None


LAB = {"sample_id": "S-9", "analyte": "vfa", "value": 1.5, "unit": "g/L",
       "sampled_at": "2026-03-01T08:00:00Z"}
CSV = b"sample_id,analyte,value,unit,sampled_at\nS-9,ts,30,%,2026-03-01T08:00:00Z\n"
ROUTES = [
    Route("GET", "/plants/{plant}/tags", Permission.READ_PROCESS),
    Route("GET", "/plants/{plant}/readings", Permission.READ_PROCESS,
          params={"tag": "gas.ch4"}),
    Route("GET", "/plants/{plant}/readings.csv", Permission.EXPORT_CSV,
          params={"tag": "gas.ch4"}),
    Route("GET", "/plants/{plant}/latest", Permission.READ_PROCESS),
    Route("GET", "/plants/{plant}/devices", Permission.READ_PROCESS),
    Route("GET", "/plants/{plant}/completeness", Permission.READ_PROCESS),
    Route("GET", "/plants/{plant}/lab-results", Permission.READ_PROCESS),
    Route("GET", "/plants/{plant}/kpis", Permission.READ_KPIS),
    Route("POST", "/plants/{plant}/lab-results", Permission.RECORD_LAB, body=LAB),
    Route("POST", "/plants/{plant}/lab-results/csv", Permission.RECORD_LAB,
          files={"file": ("lab.csv", CSV, "text/csv")}),
    Route("GET", "/alerts/{alert}", Permission.READ_ALERTS),
    Route("POST", "/alerts/{alert}/acknowledge", Permission.ACK_ALERT, body={}),
    Route("POST", "/alerts/{alert}/comments", Permission.COMMENT_ALERT,
          body={"comment": "seen"}),
    Route("GET", "/plants", Permission.READ_PROCESS),
    Route("GET", "/alerts", Permission.READ_ALERTS, params={"plant": "{plant}"}),
    Route("GET", "/anomalies", Permission.READ_ALERTS, params={"plant": "{plant}"}),
    Route("GET", "/stream", Permission.READ_ALERTS, params={"plant": "{plant}"}),
]
PUBLIC = {("GET", "/health"), ("GET", "/metrics"), ("GET", "/overview/{plant}")}


def test_every_route_is_in_the_access_table() -> None:
    app = create_app(settings_for(DatabaseSettings()))
    found = {(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops}
    table = {(r.method, r.path.replace("{alert}", "{alert_id}")) for r in ROUTES}
    assert found == table | PUBLIC


def _fill(route: Route, data: PlantData) -> tuple[str, dict[str, Any] | None]:
    def sub(text: str) -> str:
        return text.replace("{plant}", data.plant).replace("{alert}", str(data.alert_id))
    params = {k: sub(v) for k, v in (route.params or {}).items()}
    return sub(route.path), params or None


async def _call(api: httpx.AsyncClient, route: Route, data: PlantData,
                headers: dict[str, str]) -> httpx.Response:
    path, params = _fill(route, data)
    if route.path == "/stream" and data.plant == "plant-a":
        raise AssertionError("streams of granted plants are checked in test_api_stream")
    return await api.request(route.method, path, params=params, json=route.body,
                             files=route.files, headers=headers)


async def test_every_role_on_every_route_sees_only_its_plants(
        stack: StackEndpoints, database: DatabaseSettings, topics: Topics) -> None:
    a, events_a = plant_events("plant-a", recent_start(30), 30)
    b, events_b = plant_events("plant-b", recent_start(30), 30)
    fill(database, events_a + events_b)
    async with client_for(settings_for(database, stack.kafka, topics)) as api:
        for route in ROUTES:
            r = await _call(api, route, b, {})
            assert r.status_code == 401, (route, r.text)
            assert r.headers["content-type"] == "application/problem+json"
        for role in Role:
            token = bearer(role, "plant-a")
            for route in ROUTES:
                may = route.permission in MATRIX[role]
                other = await _call(api, route, b, token)
                if not may:
                    assert other.status_code == 403, (role, route, other.text)
                elif route.path.startswith("/alerts/{alert}"):
                    assert other.status_code == 404, (role, route, other.text)
                elif route.path == "/plants":
                    assert other.status_code == 200
                    assert [p["plant_id"] for p in other.json()] == ["plant-a"]
                else:
                    assert other.status_code == 403, (role, route, other.text)
                    assert "plant-b" in other.json()["detail"]
                if route.path == "/stream":
                    continue
                own = await _call(api, route, a, token)
                if may:
                    assert own.status_code in (200, 202, 409), (role, route, own.text)
                    assert "plant-b" not in own.text, (role, route)
                else:
                    assert own.status_code == 403, (role, route, own.text)
                    assert route.permission in own.json()["detail"]
        for path in ("/alerts", "/anomalies"):
            listed = (await api.get(path, headers=bearer(Role.OWNER, "plant-a"))).json()
            assert {i["plant_id"] for i in listed["items"]} == {"plant-a"}
        both = (await api.get("/alerts", headers=bearer(Role.OWNER, "*"))).json()
        assert {i["plant_id"] for i in both["items"]} == {"plant-a", "plant-b"}
        r = await api.get("/health")
        assert r.status_code == 200
        # every request above is counted by route template and status, none by plant
        r = await api.get("/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        assert 'api_requests_total{method="GET",route="/plants",status="401"}' in r.text
        assert 'api_requests_total{method="GET",route="/plants",status="200"}' in r.text
        assert 'route="/alerts/{alert_id}/acknowledge",status="404"' in r.text
        assert "plant-a" not in r.text and "plant-b" not in r.text
        r = await api.get("/overview/plant-b")
        assert r.status_code == 200 and "plant-b" in r.text
        r = await api.get("/plants", headers={"Authorization": "Bearer bgs1.x.y"})
        assert r.status_code == 401 and "signature" in r.json()["detail"]
