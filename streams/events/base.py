"""Building blocks shared by every event: the envelope, constrained field types, value objects.

Every event is a frozen pydantic model that rejects unknown fields and non-finite floats, names
itself with an ``event_type`` literal (the discriminator of :data:`streams.events.Event`), and
carries a ``schema_version`` and an ``event_id``. Timestamps must carry a UTC offset and are
normalised to UTC.
"""

from __future__ import annotations

import binascii
from collections import Counter
from datetime import UTC, datetime
from typing import Annotated, Any, cast
from uuid import UUID, uuid4

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetPydanticSchema,
    StringConstraints,
)
from pydantic_core import CoreSchema

#: Fields every serialised event must carry, whatever defaults the Python constructor offers.
ENVELOPE_FIELDS: tuple[str, ...] = ("event_type", "schema_version", "event_id")


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _require_envelope(schema: dict[str, Any], cls: type[Any]) -> None:
    """Mark the envelope fields required in the JSON schema: a producer must always send them."""
    properties = schema.get("properties", {})
    envelope = [name for name in ENVELOPE_FIELDS if name in properties]
    rest = [name for name in schema.get("required", []) if name not in envelope]
    schema["required"] = [*envelope, *rest]


def _check_base64(value: str) -> str:
    try:
        binascii.a2b_base64(value, strict_mode=True)
    except binascii.Error as exc:
        raise ValueError(f"not valid base64 ({exc})") from exc
    return value


def check_unique(values: tuple[str, ...]) -> tuple[str, ...]:
    """Validator: reject a tuple of names with repeated entries, naming them."""
    duplicates = sorted(v for v, n in Counter(values).items() if n > 1)
    if duplicates:
        raise ValueError(f"duplicate entries: {', '.join(duplicates)}")
    return values


def _one_error_for_reading_values(source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
    """A reading value that is none of the union's types (a NaN or an infinity included: the
    float member rejects them) gets one clear error, not one per member of the union. Checked
    natively: no Python call per reading."""
    schema = handler(source)
    union: dict[str, Any] = dict(schema["schema"] if schema["type"] == "nullable" else schema)
    union["custom_error_type"] = "reading_value"
    union["custom_error_message"] = (
        "Input should be a finite number, a bool, a string or null "
        "(NaN and infinity are not allowed)")
    if schema["type"] == "nullable":
        return cast(CoreSchema, {**schema, "schema": union})
    return cast(CoreSchema, union)


#: A timezone-aware timestamp, normalised to UTC; naive datetimes are rejected.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
#: A plant identifier: lower-case letters, digits, ``_`` and ``-``; 1-64 characters.
PlantId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")
]
#: A tag name as configured at the edge, e.g. ``digester1.temp`` or ``chp:power_kw``.
Tag = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]
#: A short, non-empty name or identifier (device, poll group, model id, user, ...).
Name = Annotated[str, StringConstraints(min_length=1, max_length=128)]
#: Non-empty free text (reasons, titles, comments).
Text = Annotated[str, StringConstraints(min_length=1, max_length=4000)]
#: A lower-case hex SHA-256 digest.
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
#: Standard base64 text (RFC 4648, with padding).
Base64Text = Annotated[str, AfterValidator(_check_base64)]
#: A sequence number assigned by an edge producer, starting at 0 for each boot.
Seq = Annotated[int, Field(ge=0)]
#: A tuple of distinct tags, at least one.
UniqueTags = Annotated[tuple[Tag, ...], Field(min_length=1), AfterValidator(check_unique)]
#: A reading's value as read: the JSON type is kept (a bool stays a bool). Never NaN or infinity.
ReadingValue = Annotated[float | int | bool | str | None,
                         GetPydanticSchema(_one_error_for_reading_values)]


class ValueObject(BaseModel):
    """A frozen, strict-shaped part of an event (a reading, a vote, a model reference)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class EventBase(BaseModel):
    """The envelope every event carries. Concrete events narrow ``event_type`` to a literal."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra=_require_envelope,
    )

    event_type: str
    schema_version: int = 1
    event_id: UUID = Field(default_factory=uuid4)


class EdgeEvent(EventBase):
    """An event appended by an edge producer: ``(plant_id, edge_boot_id, seq)`` proves there are
    no gaps or duplicates, since ``seq`` starts at 0 on each boot and grows by one per event."""

    plant_id: PlantId
    edge_boot_id: UUID
    seq: Seq
