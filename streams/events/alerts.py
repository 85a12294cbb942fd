"""The alert lifecycle: opened, updated, acknowledged, commented, cleared."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from streams.events.base import EventBase, Name, PlantId, Text, UniqueTags, UtcDatetime


class Severity(StrEnum):
    """How urgent an alert is."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class _AlertEvent(EventBase):
    alert_id: UUID
    plant_id: PlantId


class AlertOpened(_AlertEvent):
    """An episode of anomalies became an alert."""

    event_type: Literal["alert_opened"] = "alert_opened"
    schema_version: Literal[1] = 1
    severity: Severity
    tags: UniqueTags
    title: Annotated[str, Field(min_length=1, max_length=200)]
    opened_at: UtcDatetime
    anomaly_ids: Annotated[tuple[UUID, ...], Field(min_length=1)]
    retrospective: bool = False


class AlertUpdated(_AlertEvent):
    """More anomalies joined an open alert, or its severity changed."""

    event_type: Literal["alert_updated"] = "alert_updated"
    schema_version: Literal[1] = 1
    severity: Severity
    anomaly_count: Annotated[int, Field(ge=1)]
    last_anomaly_at: UtcDatetime
    updated_at: UtcDatetime


class AlertAcknowledged(_AlertEvent):
    """Someone took responsibility for an alert (a command from the API)."""

    event_type: Literal["alert_acknowledged"] = "alert_acknowledged"
    schema_version: Literal[1] = 1
    acknowledged_by: Name
    comment: Text | None = None
    acknowledged_at: UtcDatetime


class AlertCommented(_AlertEvent):
    """Someone commented on an alert (a command from the API)."""

    event_type: Literal["alert_commented"] = "alert_commented"
    schema_version: Literal[1] = 1
    author: Name
    comment: Text
    commented_at: UtcDatetime


class AlertCleared(_AlertEvent):
    """An alert ended: the condition went away or someone closed it."""

    event_type: Literal["alert_cleared"] = "alert_cleared"
    schema_version: Literal[1] = 1
    cleared_at: UtcDatetime
    reason: Text
