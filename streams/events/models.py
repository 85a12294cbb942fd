"""Model lifecycle: a signed ONNX model made available to the detectors (to vote, or in shadow
beside the live version), how a shadow's decisions compare with the live ones, and the drift
of a model's inputs measured at a plant."""

from __future__ import annotations

import binascii
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from streams.events.analytics import FeatureName, ModelRef
from streams.events.base import EventBase, Name, PlantId, Sha256, UtcDatetime, check_unique

ED25519_SIGNATURE_BYTES = 64


def _check_signature(value: str) -> str:
    try:
        raw = binascii.a2b_base64(value, strict_mode=True)
    except binascii.Error as exc:
        raise ValueError(f"signature is not valid base64 ({exc})") from exc
    if len(raw) != ED25519_SIGNATURE_BYTES:
        raise ValueError(
            f"an ed25519 signature is {ED25519_SIGNATURE_BYTES} bytes, got {len(raw)}"
        )
    return value


Ed25519Signature = Annotated[str, AfterValidator(_check_signature)]


class ModelDeployed(EventBase):
    """A model version is deployed, for one plant or (``plant_id`` None) for every plant.

    The detectors load the artifact, check its SHA-256 and the ed25519 signature made with the
    key ``key_id`` over the digest, and hot-swap it in. A ``shadow`` deployment is scored beside
    the live version of its ``model_id`` on the same readings without voting; the detectors
    report how the two decisions compare (:class:`ModelShadowCompared`). A tombstone under a
    shadow's key ends it.
    """

    event_type: Literal["model_deployed"] = "model_deployed"
    schema_version: Literal[1] = 1
    model_id: Name
    version: Name
    plant_id: PlantId | None = Field(description="None deploys to every plant.")
    sha256: Sha256
    artifact_uri: Annotated[str, Field(min_length=1, max_length=2048)]
    signature: Ed25519Signature = Field(description="Base64 of the 64-byte ed25519 signature.")
    key_id: Name
    features: Annotated[
        tuple[Annotated[str, Field(min_length=1, max_length=128)], ...],
        Field(min_length=1, description="Feature names in model input order."),
        AfterValidator(check_unique),
    ]
    deployed_by: Name
    deployed_at: UtcDatetime
    # left off the wire when live: a live deployment reads the same as before roles existed,
    # so workers of contract 1.1 still take it (they refuse a shadow: extra field)
    role: Literal["live", "shadow"] = Field(
        default="live", exclude_if=lambda role: role == "live",
        description="live: the model votes; shadow: it is scored beside the live version of "
        "its model id and does not vote.")


class ModelShadowCompared(EventBase):
    """How a shadow model's decisions compared with the live ones on one stream of a plant over
    a window of event time.

    Both decisions are the whole ensemble's vote on each reading: once with the live version of
    ``model_id`` (or without that model when none is live at the plant: ``live`` None), once
    with the candidate in its place. Published by the detectors when the first scan after the
    window arrives; ``event_id`` is a UUID5 of plant, stream, model, candidate and window.
    """

    event_type: Literal["model_shadow_compared"] = "model_shadow_compared"
    schema_version: Literal[1] = 1
    plant_id: PlantId
    stream: Name = Field(description="The stream, 'device/poll_group'.")
    model_id: Name
    live: ModelRef | None = Field(description="The live version; None when none is live.")
    candidate: ModelRef
    window_start: UtcDatetime
    window_end: UtcDatetime = Field(description="End of the window (exclusive).")
    readings: Annotated[int, Field(ge=1, description="Readings both decided on.")]
    live_alarms: Annotated[int, Field(ge=0, description="Readings the live ensemble flagged.")]
    candidate_alarms: Annotated[int, Field(
        ge=0, description="Readings the ensemble with the candidate flagged.")]
    both_alarms: Annotated[int, Field(ge=0, description="Readings both flagged.")]
    differing_by_tag: Annotated[dict[Name, Annotated[int, Field(ge=1)]], Field(
        max_length=20, description="Readings decided differently, per tag (the 20 tags with "
        "the most).")]

    @model_validator(mode="after")
    def _consistent(self) -> ModelShadowCompared:
        if self.window_end <= self.window_start:
            raise ValueError(f"window_end {self.window_end.isoformat()} must be after "
                             f"window_start {self.window_start.isoformat()}")
        if self.both_alarms > min(self.live_alarms, self.candidate_alarms):
            raise ValueError(f"both_alarms {self.both_alarms} exceeds live_alarms "
                             f"{self.live_alarms} or candidate_alarms {self.candidate_alarms}")
        if max(self.live_alarms, self.candidate_alarms) > self.readings:
            raise ValueError(f"more alarms than the {self.readings} readings")
        return self


class ModelDriftMeasured(EventBase):
    """The population stability index (PSI) of each model input of a deployed model at one
    plant over a window, against the model's training distribution.

    Published by ``biogas models drift-watch`` once per window, plant and model; the
    ``event_id`` is a UUID5 of plant, model, version and window end, so a repeated check of the
    same window carries the same id.
    """

    event_type: Literal["model_drift_measured"] = "model_drift_measured"
    schema_version: Literal[1] = 1
    plant_id: PlantId
    model: ModelRef
    window_start: UtcDatetime
    window_end: UtcDatetime = Field(description="End of the window (exclusive).")
    rows: Annotated[int, Field(ge=1, description="Model input rows in the window.")]
    psi: Annotated[dict[FeatureName, Annotated[float, Field(ge=0)]], Field(min_length=1)] = Field(
        description="PSI per model input against the training distribution.")
    threshold: Annotated[float, Field(gt=0, description="PSI above which a feature drifts.")]
    drifting: bool = Field(description="True when some feature's PSI exceeds the threshold.")
    measured_at: UtcDatetime

    @model_validator(mode="after")
    def _consistent(self) -> ModelDriftMeasured:
        if self.window_end <= self.window_start:
            raise ValueError(f"window_end {self.window_end.isoformat()} must be after "
                             f"window_start {self.window_start.isoformat()}")
        above = sorted(k for k, v in self.psi.items() if v > self.threshold)
        if self.drifting != bool(above):
            raise ValueError(f"drifting is {self.drifting} but the features above the "
                             f"threshold {self.threshold:g} are {above or 'none'}")
        return self
