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
    """An incident became an alert: anomalies that started together, on related tags, with
    their probable cause.

    Version 2 added ``cause`` (a key such as ``chp_trip``; ``anomaly`` when none is known)
    and ``summary`` (the evidence in words); in version 1 an alert was one tag's episode."""

    event_type: Literal["alert_opened"] = "alert_opened"
    schema_version: Literal[2] = 2
    severity: Severity
    tags: UniqueTags
    title: Annotated[str, Field(min_length=1, max_length=200)]
    cause: Name = "anomaly"
    summary: Text | None = None
    opened_at: UtcDatetime
    anomaly_ids: Annotated[tuple[UUID, ...], Field(min_length=1)]
    retrospective: bool = False


class AlertUpdated(_AlertEvent):
    """More anomalies joined an open alert, or its severity, tags or probable cause changed.

    Version 2 added ``tags`` (every tag of the incident so far), ``title``, ``cause`` and
    ``summary``, each None when unchanged."""

    event_type: Literal["alert_updated"] = "alert_updated"
    schema_version: Literal[2] = 2
    severity: Severity
    anomaly_count: Annotated[int, Field(ge=1)]
    last_anomaly_at: UtcDatetime
    updated_at: UtcDatetime
    tags: UniqueTags | None = None
    title: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    cause: Name | None = None
    summary: Text | None = None


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
