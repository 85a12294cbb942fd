"""Events computed by the stream agents: rolling features and detected anomalies."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from streams.events.base import (
    EventBase,
    Name,
    PlantId,
    Sha256,
    Tag,
    UniqueTags,
    UtcDatetime,
    ValueObject,
)

FeatureName = Annotated[str, Field(min_length=1, max_length=128)]


class DetectorVote(ValueObject):
    """One detector's opinion on a window: its score, its threshold and whether it voted."""

    name: Name
    score: float
    threshold: float
    voted: bool


class FeatureContribution(ValueObject):
    """How much one feature pushed the anomaly score."""

    name: FeatureName
    value: float
    contribution: float


class Finding(ValueObject):
    """What one detector found on one tag, in numbers and in an operator's words: the check
    that fired (``baseline.mean_1h``, ``process.circulation``, ``rule.range``, a model id),
    the value it judged, the normal band it was held against when it has one, and the tag's
    role from the catalogue."""

    tag: Tag
    check: Name
    value: float | None = None
    normal_low: float | None = None
    normal_high: float | None = None
    role: Annotated[str, Field(max_length=64)] | None = None
    text: Annotated[str, Field(min_length=1, max_length=400)]


class ModelRef(ValueObject):
    """Which deployed model produced a score (see ``ModelDeployed``)."""

    model_id: Name
    version: Name
    sha256: Sha256


class FeaturesComputed(EventBase):
    """Rolling features over a window, for one tag or (``tag`` None) for the whole plant."""

    event_type: Literal["features_computed"] = "features_computed"
    schema_version: Literal[1] = 1
    plant_id: PlantId
    tag: Tag | None = Field(description="None for plant-level features.")
    window_s: Annotated[int, Field(gt=0)]
    event_time: UtcDatetime = Field(description="End of the window, in source time.")
    features: dict[FeatureName, float]
    source_seq: Annotated[int, Field(ge=0)] | None = Field(
        default=None, description="seq of the scan that closed the window, when known."
    )
    edge_boot_id: UUID | None = Field(
        default=None, description="edge_boot_id of the scan that closed the window, when known."
    )


class AnomalyDetected(EventBase):
    """The detectors voted that a window is anomalous.

    Version 2 names every deployed model that voted (``models``; version 1 had one ``model``)
    and adds ``findings``: per flagged tag, what was found, in words."""

    event_type: Literal["anomaly_detected"] = "anomaly_detected"
    schema_version: Literal[2] = 2
    plant_id: PlantId
    anomaly_id: UUID
    tags: UniqueTags
    event_time: UtcDatetime = Field(description="Source time of the anomalous window.")
    detected_at: UtcDatetime
    score: float
    threshold: float
    detectors: tuple[DetectorVote, ...]
    top_features: tuple[FeatureContribution, ...]
    models: tuple[ModelRef, ...] = Field(default=(), description="Every deployed model that "
                                         "voted for the anomaly's tags.")
    findings: tuple[Finding, ...] = Field(default=(), description="Per flagged tag (strongest "
                                          "first), what the detectors found.")
    retrospective: bool = Field(
        default=False, description="True when found while replaying history, not live."
    )
