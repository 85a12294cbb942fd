"""The events on the log: one frozen pydantic model per event, decoded through :data:`Event`."""

from streams.events.alerts import (
    AlertAcknowledged,
    AlertCleared,
    AlertCommented,
    AlertOpened,
    AlertUpdated,
    Severity,
)
from streams.events.analytics import (
    AnomalyDetected,
    DetectorVote,
    FeatureContribution,
    FeaturesComputed,
    Finding,
    ModelRef,
)
from streams.events.base import EdgeEvent, EventBase
from streams.events.deadletter import MessageDeadLettered
from streams.events.edge import (
    DeviceStatus,
    DeviceStatusChanged,
    EdgeHeartbeat,
    Quality,
    Reading,
    Role,
    ScanRecorded,
    TagKind,
    TagsConfigured,
    TagSpec,
)
from streams.events.lab import Analyte, LabResultRecorded
from streams.events.models import ModelDeployed, ModelDriftMeasured, ModelShadowCompared
from streams.events.union import EVENT_TYPES, Event, event_type_of, schema_version_of

__all__ = [
    "EVENT_TYPES",
    "AlertAcknowledged",
    "AlertCleared",
    "AlertCommented",
    "AlertOpened",
    "AlertUpdated",
    "Analyte",
    "AnomalyDetected",
    "DetectorVote",
    "DeviceStatus",
    "DeviceStatusChanged",
    "EdgeEvent",
    "EdgeHeartbeat",
    "Event",
    "EventBase",
    "FeatureContribution",
    "FeaturesComputed",
    "Finding",
    "LabResultRecorded",
    "MessageDeadLettered",
    "ModelDeployed",
    "ModelDriftMeasured",
    "ModelRef",
    "ModelShadowCompared",
    "Quality",
    "Reading",
    "Role",
    "ScanRecorded",
    "Severity",
    "TagKind",
    "TagSpec",
    "TagsConfigured",
    "event_type_of",
    "schema_version_of",
]
