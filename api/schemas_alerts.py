"""Response models of anomalies and alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

AlertState = Literal["open", "acknowledged", "cleared"]


class Anomaly(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "anomaly_id": "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c11", "plant_id": "plant-a",
        "tags": ["gas.ch4"], "event_time": "2026-03-01T12:00:00Z",
        "detected_at": "2026-03-01T12:00:02Z", "score": 0.91, "threshold": 0.7,
        "model_id": "digester-iforest", "model_version": "3", "model_sha256": "a" * 64,
        "detectors": [{"name": "iforest", "score": 0.91, "threshold": 0.7, "voted": True}],
        "top_features": [{"name": "gas.ch4.slope_1h", "value": -2.1, "contribution": 0.6}],
        "retrospective": False}]})
    anomaly_id: UUID
    plant_id: str
    tags: list[str]
    event_time: datetime
    detected_at: datetime
    score: float
    threshold: float
    model_id: str | None
    model_version: str | None
    model_sha256: str | None
    detectors: list[dict[str, Any]]
    top_features: list[dict[str, Any]]
    retrospective: bool


class Alert(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "alert_id": "0b0e7c4a-8d2e-4f9b-a0a1-3c5d7e9f1b22", "plant_id": "plant-a",
        "severity": "warning", "title": "CH4 falling", "tags": ["gas.ch4"],
        "anomaly_ids": ["5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c11"],
        "opened_at": "2026-03-01T12:00:02Z", "retrospective": False, "anomaly_count": 1,
        "last_anomaly_at": "2026-03-01T12:00:00Z", "updated_at": None,
        "acknowledged_by": None, "acknowledged_at": None, "comment_count": 0,
        "cleared_at": None, "clear_reason": None, "state": "open"}]})
    alert_id: UUID
    plant_id: str
    severity: str | None
    title: str | None
    tags: list[str] | None
    anomaly_ids: list[UUID] | None
    opened_at: datetime | None
    retrospective: bool | None
    anomaly_count: int | None
    last_anomaly_at: datetime | None
    updated_at: datetime | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    comment_count: int
    cleared_at: datetime | None
    clear_reason: str | None
    state: AlertState


class AlertHistoryEntry(BaseModel):
    event_id: UUID
    event_type: str
    at: datetime
    actor: str | None
    detail: dict[str, Any]


class AlertDetail(Alert):
    history: list[AlertHistoryEntry]


class AnomalyPage(BaseModel):
    items: list[Anomaly]
    next_cursor: str | None


class AlertPage(BaseModel):
    items: list[Alert]
    next_cursor: str | None
