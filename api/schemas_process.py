"""Response models of the process routes (plants, tags, readings, devices, completeness)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


class PlantSummary(BaseModel):
    model_config = _examples({"plant_id": "plant-a", "tag_count": 57,
                              "last_reading_at": "2026-03-01T12:00:00Z", "open_alerts": 1})
    plant_id: str
    tag_count: int
    last_reading_at: datetime | None
    open_alerts: int


class TagInfo(BaseModel):
    model_config = _examples({"tag": "dig1.temp", "device": "plc", "poll_group": "fast",
                              "unit": "°C", "min": 30.0, "max": 45.0, "poll_interval_s": 1.0,
                              "description": "digester temperature, mean"})
    tag: str
    device: str | None
    poll_group: str | None
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    poll_interval_s: float | None = None
    description: str | None = None


class Bucket(BaseModel):
    t: datetime
    min: float | None
    max: float | None
    avg: float | None
    last: float | None
    count: int
    bad: int


class Series(BaseModel):
    tag: str
    points: list[Bucket]


class Readings(BaseModel):
    model_config = _examples({
        "plant_id": "plant-a", "start": "2026-03-01T00:00:00Z", "end": "2026-03-02T00:00:00Z",
        "bucket_s": 60, "source": "rollup_1m",
        "series": [{"tag": "dig1.temp", "points": [
            {"t": "2026-03-01T00:00:00Z", "min": 38.1, "max": 38.3, "avg": 38.2, "last": 38.2,
             "count": 60, "bad": 0}]}]})
    plant_id: str
    start: datetime
    end: datetime
    bucket_s: int
    source: Literal["readings", "rollup_1m", "rollup_1h"]
    series: list[Series]


class LatestValue(BaseModel):
    model_config = _examples({"tag": "gas.ch4", "time": "2026-03-01T12:00:00Z", "value": 52.3,
                              "value_text": None, "quality": "good"})
    tag: str
    time: datetime
    value: float | None
    value_text: str | None
    quality: str


class DeviceState(BaseModel):
    model_config = _examples({"device": "analyser", "status": "degraded", "previous": "online",
                              "reason": "2 of 5 registers failed", "exception_code": 2,
                              "changed_at": "2026-03-01T11:58:00Z"})
    device: str
    status: str
    previous: str | None
    reason: str
    exception_code: int | None
    changed_at: datetime


class EdgeLink(BaseModel):
    """One boot of the plant's edge producer as seen through the log."""

    edge_boot_id: str
    last_event_at: datetime
    last_heartbeat_at: datetime | None
    journal_depth: int | None
    journal_oldest_age_s: float | None
    missing_count: int
    duplicate_count: int


class Devices(BaseModel):
    plant_id: str
    devices: list[DeviceState]
    edge: list[EdgeLink]


class CompletenessHour(BaseModel):
    model_config = _examples({"tag": "dig1.temp", "device": "plc", "poll_group": "fast",
                              "hour": "2026-03-01T11:00:00Z", "expected_count": 3600,
                              "received_count": 3598, "good_count": 3598,
                              "completeness": 0.9994})
    tag: str
    device: str
    poll_group: str
    hour: datetime
    expected_count: int
    received_count: int
    good_count: int
    completeness: float


class LabResult(BaseModel):
    model_config = _examples({"event_id": "0b0e7c4a-8d2e-4f9b-a0a1-3c5d7e9f1b22",
                              "sample_id": "S-0301", "analyte": "fos_tac", "value": 0.31,
                              "unit": "-", "sampled_at": "2026-03-01T08:00:00Z",
                              "recorded_at": "2026-03-01T10:00:00Z", "recorded_by": "alice",
                              "digester": "dig1"})
    event_id: str
    sample_id: str
    analyte: str
    value: float
    unit: str
    sampled_at: datetime
    recorded_at: datetime
    recorded_by: str
    digester: str | None
