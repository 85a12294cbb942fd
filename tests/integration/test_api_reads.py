"""The read routes against the real database, filled by the projection store from real
events: plants, tags, readings (raw and rollups), CSV, latest values, devices, completeness,
anomalies and alerts with filters and cursor pagination, KPIs."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest

from api.tokens import Role
from streams.settings import DatabaseSettings
from tests.integration.api_harness import (
    TAGS,
    PlantData,
    bearer,
    client_for,
    fill,
    plant_events,
    recent_start,
    settings_for,
    value_of,
)

pytestmark = pytest.mark.integration
OWNER = bearer(Role.OWNER, "*")


@pytest.fixture
def plants(database: DatabaseSettings) -> list[PlantData]:
    start = recent_start(180)
    a, events_a = plant_events("plant-a", start, 180)
    b, events_b = plant_events("plant-b", start, 180)
    fill(database, events_a + events_b)
    return [a, b]


async def test_plants_tags_latest_devices(database: DatabaseSettings,
                                          plants: list[PlantData]) -> None:
    async with client_for(settings_for(database)) as api:
        r = await api.get("/plants", headers=OWNER)
        assert r.status_code == 200, r.text
        assert [(p["plant_id"], p["tag_count"], p["open_alerts"]) for p in r.json()] == [
            ("plant-a", len(TAGS), 1), ("plant-b", len(TAGS), 1)]
        tags = (await api.get("/plants/plant-a/tags", headers=OWNER)).json()
        assert {t["tag"] for t in tags} == set(TAGS)
        assert {(t["device"], t["poll_group"]) for t in tags} == {("plc", "fast")}
        by_tag = {t["tag"]: t for t in tags}
        assert (by_tag["dig1.temp"]["unit"], by_tag["dig1.temp"]["min"],
                by_tag["dig1.temp"]["max"], by_tag["dig1.temp"]["poll_interval_s"]) == (
            "°C", 0.0, 1000.0, 60.0)
        assert by_tag["chp.run"]["unit"] is None
        latest = (await api.get("/plants/plant-a/latest", headers=OWNER,
                                params={"tag": ["gas.ch4", "chp.p_el"]})).json()
        assert [(v["tag"], v["value"]) for v in latest] == [
            ("chp.p_el", 500.0), ("gas.ch4", value_of("gas.ch4", 179))]
        devices = (await api.get("/plants/plant-a/devices", headers=OWNER)).json()
        assert [(d["device"], d["status"]) for d in devices["devices"]] == [
            ("analyser", "degraded")]
        assert devices["edge"][0]["missing_count"] == 0
        assert devices["edge"][0]["last_heartbeat_at"] is not None


async def test_readings_are_bucketed_from_raw_rows_and_rollups(
        database: DatabaseSettings, plants: list[PlantData]) -> None:
    a = plants[0]
    async with client_for(settings_for(database)) as api:
        async def readings(hours: float, max_points: int) -> dict[str, Any]:
            r = await api.get("/plants/plant-a/readings", headers=OWNER, params={
                "tag": ["dig1.temp", "chp.energy_el"], "start": a.start.isoformat(),
                "end": (a.start + timedelta(hours=hours)).isoformat(),
                "max_points": max_points})
            assert r.status_code == 200, r.text
            body: dict[str, Any] = r.json()
            return body

        raw = await readings(1, 3600)
        assert (raw["source"], raw["bucket_s"]) == ("readings", 1)
        r = await api.get("/plants/plant-a/readings", headers=OWNER, params={  # no tag named
            "start": a.start.isoformat(), "end": (a.start + timedelta(hours=1)).isoformat()})
        assert r.status_code == 200, r.text
        assert {s["tag"] for s in r.json()["series"]} == set(TAGS)  # default: every tag
        series = {s["tag"]: s["points"] for s in raw["series"]}
        assert len(series["dig1.temp"]) == 60
        assert series["dig1.temp"][5]["avg"] == pytest.approx(value_of("dig1.temp", 5))

        minute = await readings(3, 18)  # 10-minute buckets from the 1-minute rollup
        assert (minute["source"], minute["bucket_s"]) == ("rollup_1m", 600)
        points = {s["tag"]: s["points"] for s in minute["series"]}["chp.energy_el"]
        assert len(points) == 18
        first = points[0]
        assert first["count"] == 10 and first["bad"] == 0
        assert first["min"] == pytest.approx(value_of("chp.energy_el", 0))
        assert first["max"] == pytest.approx(value_of("chp.energy_el", 9))
        assert first["last"] == pytest.approx(value_of("chp.energy_el", 9))
        assert first["avg"] == pytest.approx(
            sum(value_of("chp.energy_el", i) for i in range(10)) / 10)

        hourly = await readings(24 * 30, 100)  # 30 days into at most 100 buckets: 8 h
        assert (hourly["source"], hourly["bucket_s"]) == ("rollup_1h", 8 * 3600)
        counts = sum(p["count"] for s in hourly["series"] for p in s["points"])
        assert counts == 2 * a.minutes

        r = await api.get("/plants/plant-a/readings.csv", headers=OWNER, params={
            "tag": "dig1.temp", "start": a.start.isoformat(),
            "end": (a.start + timedelta(hours=1)).isoformat(), "max_points": 6})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert len(rows) == 6 and {row["tag"] for row in rows} == {"dig1.temp"}
        assert sum(int(row["count"]) for row in rows) == 60


async def test_completeness_and_bad_requests(database: DatabaseSettings,
                                             plants: list[PlantData]) -> None:
    a = plants[0]
    async with client_for(settings_for(database)) as api:
        r = await api.get("/plants/plant-a/completeness", headers=OWNER, params={
            "tag": "gas.ch4", "start": a.start.isoformat(),
            "end": (a.start + timedelta(hours=3)).isoformat()})
        assert r.status_code == 200, r.text
        hours = r.json()
        assert hours and all(h["expected_count"] == 60 for h in hours)
        assert sum(h["received_count"] for h in hours) == a.minutes
        cases: list[tuple[dict[str, Any], str]] = [({"tag": "x y"}, "not a tag name"),
                               ({"tag": "gas.ch4", "start": "2026-01-02T00:00:00Z",
                                 "end": "2026-01-01T00:00:00Z"}, "must be before"),
                               ({"tag": "gas.ch4", "max_points": 0}, "max_points")]
        for params, needle in cases:
            r = await api.get("/plants/plant-a/readings", headers=OWNER, params=params)
            assert r.status_code == 422, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert needle in r.json()["detail"], r.json()


async def test_anomalies_and_alerts_filter_and_paginate(database: DatabaseSettings,
                                                        plants: list[PlantData]) -> None:
    extra = [e for i in range(5)
             for e in plant_events("plant-a", recent_start(60 - i), 1)[1][-2:]]
    fill(database, extra, log="more-alerts")
    async with client_for(settings_for(database)) as api:
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"plant": "plant-a", "limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = (await api.get("/alerts", headers=OWNER, params=params)).json()
            seen += [item["alert_id"] for item in page["items"]]
            assert all(item["plant_id"] == "plant-a" for item in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == 6
        opened = [(await api.get(f"/alerts/{i}", headers=OWNER)).json()["opened_at"]
                  for i in seen]
        assert opened == sorted(opened, reverse=True)
        page = (await api.get("/anomalies", headers=OWNER,
                              params={"plant": ["plant-a", "plant-b"], "limit": 100})).json()
        assert len(page["items"]) == 7 and page["next_cursor"] is None
        none = (await api.get("/alerts", headers=OWNER,
                              params={"state": "cleared", "severity": "critical"})).json()
        assert none["items"] == []
        r = await api.get("/alerts", headers=OWNER, params={"cursor": "garbage!"})
        assert r.status_code == 422 and "next_cursor" in r.json()["detail"]



async def test_kpis_per_day_from_the_rollups(database: DatabaseSettings,
                                             plants: list[PlantData]) -> None:
    a = plants[0]
    async with client_for(settings_for(database)) as api:
        r = await api.get("/plants/plant-a/kpis", headers=bearer(Role.SUPERVISOR, "plant-a"),
                          params={"start": (a.start - timedelta(days=1)).date().isoformat(),
                                  "end": (a.start + timedelta(days=1)).date().isoformat()})
        assert r.status_code == 200, r.text
        days = [d for d in r.json() if d["coverage_hours"]]
        assert days and sum(d["coverage_hours"] for d in days) in (3, 4, 5)
        for d in days:
            assert d["biogas_nm3"] == pytest.approx(250.0 * d["coverage_hours"])
            assert d["flare_losses"] == pytest.approx(0.04)
            assert d["availability"] == pytest.approx(1.0)
        r = await api.get("/plants/plant-a/kpis", headers=OWNER,
                          params={"start": "2026-03-10", "end": "2026-03-01"})
        assert r.status_code == 422
