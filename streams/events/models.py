"""Model deployment: a signed ONNX model made available to the detectors."""

from __future__ import annotations

import binascii
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

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
    key ``key_id`` over the digest, and hot-swap it in.
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
