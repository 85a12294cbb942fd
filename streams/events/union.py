"""The discriminated union of every event, and the registry of event types."""

from __future__ import annotations

from typing import Annotated, get_args

from pydantic import Field

from streams.events.alerts import (
    AlertAcknowledged,
    AlertCleared,
    AlertCommented,
    AlertOpened,
    AlertUpdated,
)
from streams.events.analytics import AnomalyDetected, FeaturesComputed
from streams.events.base import EventBase
from streams.events.deadletter import MessageDeadLettered
from streams.events.edge import (
    DeviceStatusChanged,
    EdgeHeartbeat,
    ScanRecorded,
    TagsConfigured,
)
from streams.events.lab import LabResultRecorded
from streams.events.models import ModelDeployed, ModelDriftMeasured, ModelShadowCompared

#: Every event type on the log. Decode through this union (see :mod:`streams.codec`).
Event = Annotated[
    ScanRecorded
    | DeviceStatusChanged
    | EdgeHeartbeat
    | TagsConfigured
    | FeaturesComputed
    | AnomalyDetected
    | AlertOpened
    | AlertUpdated
    | AlertAcknowledged
    | AlertCommented
    | AlertCleared
    | ModelDeployed
    | ModelDriftMeasured
    | ModelShadowCompared
    | LabResultRecorded
    | MessageDeadLettered,
    Field(discriminator="event_type"),
]


def event_type_of(model: type[EventBase]) -> str:
    """The ``event_type`` literal of an event class."""
    (literal,) = get_args(model.model_fields["event_type"].annotation)
    return str(literal)


def schema_version_of(model: type[EventBase]) -> int:
    """The current ``schema_version`` of an event class."""
    (version,) = get_args(model.model_fields["schema_version"].annotation)
    return int(version)


def _members() -> tuple[type[EventBase], ...]:
    union, *_ = get_args(Event)
    return tuple(get_args(union))


#: event_type -> event class, in the order of :data:`Event`.
EVENT_TYPES: dict[str, type[EventBase]] = {event_type_of(m): m for m in _members()}
