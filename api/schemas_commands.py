"""Request and response bodies of the commands."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from streams.events import Analyte


def _printable(value: str) -> str:
    bad = [c for c in value if ord(c) < 32 and c not in "\n\t\r"]
    if bad:
        raise ValueError("control characters are not allowed")
    return value


def _iso_text(value: object) -> object:
    """A time arrives as ISO 8601 text: a bare number (seconds? milliseconds?) is refused,
    not read as seconds since 1970."""
    if not isinstance(value, str):
        raise ValueError("give the time as ISO 8601 text with an offset, e.g. "
                         "2026-03-01T08:00:00Z")
    return value


def _plausible_time(value: datetime) -> datetime:
    try:
        moment = value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("time out of range") from exc
    if not datetime(1970, 1, 1, tzinfo=UTC) <= moment <= datetime(2200, 1, 1, tzinfo=UTC):
        raise ValueError("time must lie between 1970 and 2200")
    return moment


Text = Annotated[str, Field(min_length=1, max_length=4000), AfterValidator(_printable)]
Name = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_printable)]


class AcknowledgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"comment": "on my way, checking the gas analyser"}]})
    comment: Text | None = None


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"comment": "analyser purged, values back to normal"}]})
    comment: Text


class LabResultIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, json_schema_extra={
        "examples": [{"sample_id": "S-0301", "analyte": "fos_tac", "value": 0.31, "unit": "-",
                      "sampled_at": "2026-03-01T08:00:00Z", "digester": "dig1"}]})
    sample_id: Name
    analyte: Analyte
    value: float = Field(ge=-1e12, le=1e12)
    unit: Annotated[str, Field(min_length=1, max_length=32), AfterValidator(_printable)]
    sampled_at: Annotated[AwareDatetime, BeforeValidator(_iso_text),
                          AfterValidator(_plausible_time)] = Field(
        description="When the sample was taken: ISO 8601 with an offset, e.g. "
                    "2026-03-01T08:00:00Z (a number is refused).")
    digester: Name | None = None


class Accepted(BaseModel):
    """The command was appended to the log; the projections show it shortly."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "event_ids": ["6f1c2a4e-1d7b-4c61-9a53-0d7f8f1e2a01"], "recorded_at":
        "2026-03-01T10:00:00Z", "actor": "alice"}]})
    event_ids: list[UUID]
    recorded_at: datetime
    actor: str
