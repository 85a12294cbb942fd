"""Events appended by an edge producer: scans, device status changes, heartbeats."""

from __future__ import annotations

from collections import Counter
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from streams.events.base import (
    EdgeEvent,
    Name,
    ReadingValue,
    Sha256,
    Tag,
    Text,
    UtcDatetime,
    ValueObject,
)


class Quality(StrEnum):
    """How trustworthy a reading is, as judged at the edge."""

    GOOD = "good"
    STALE = "stale"
    COMM_FAIL = "comm_fail"
    DEVICE_EXCEPTION = "device_exception"
    DECODE_ERROR = "decode_error"
    OUT_OF_RANGE = "out_of_range"


class DeviceStatus(StrEnum):
    """The link state of one device as seen by the edge producer."""

    ONLINE = "online"
    DEGRADED = "degraded"
    OFFLINE = "offline"


class Reading(ValueObject):
    """One tag's value in a scan. ``value`` keeps its JSON type; it may be None only when the
    quality is not ``good`` (nothing could be read)."""

    tag: Tag
    value: ReadingValue
    quality: Quality

    @model_validator(mode="after")
    def _value_present_when_good(self) -> Reading:
        if self.value is None and self.quality is Quality.GOOD:
            raise ValueError(
                f"reading {self.tag!r} has quality 'good' but no value; "
                "a missing value needs a quality other than 'good'"
            )
        return self


class ScanRecorded(EdgeEvent):
    """One Modbus poll of one poll group: all its tag values with one source timestamp."""

    event_type: Literal["scan_recorded"] = "scan_recorded"
    schema_version: Literal[1] = 1
    device: Name
    poll_group: Name
    source_ts: UtcDatetime = Field(description="When the values were read from the device.")
    readings: Annotated[tuple[Reading, ...], Field(min_length=1)]
    poll_duration_ms: Annotated[float, Field(ge=0)] | None = None

    @field_validator("readings")
    @classmethod
    def _tags_unique(cls, readings: tuple[Reading, ...]) -> tuple[Reading, ...]:
        if len({r.tag for r in readings}) == len(readings):
            return readings
        counts = Counter(r.tag for r in readings)
        duplicates = sorted(tag for tag, n in counts.items() if n > 1)
        if duplicates:
            raise ValueError(f"tag names must be unique within a scan; repeated: {duplicates}")
        return readings


class DeviceStatusChanged(EdgeEvent):
    """A device went online, degraded or offline (as seen by the edge producer)."""

    event_type: Literal["device_status_changed"] = "device_status_changed"
    schema_version: Literal[1] = 1
    device: Name
    status: DeviceStatus
    previous: DeviceStatus | None
    reason: Text
    exception_code: Annotated[int, Field(ge=0, le=255)] | None = Field(
        default=None, description="Modbus exception code, when the device answered with one."
    )
    changed_at: UtcDatetime


class EdgeHeartbeat(EdgeEvent):
    """The edge producer is alive; how much is waiting in its local journal."""

    event_type: Literal["edge_heartbeat"] = "edge_heartbeat"
    schema_version: Literal[1] = 1
    sent_at: UtcDatetime
    journal_depth: Annotated[int, Field(ge=0, description="Scans waiting to be sent.")]
    journal_oldest_age_s: Annotated[float, Field(ge=0)] | None = Field(
        description="Age of the oldest waiting scan; None when the journal is empty."
    )
    journal_bytes: Annotated[int, Field(ge=0)]
    dropped_total: Annotated[int, Field(ge=0)]


class TagKind(StrEnum):
    """How a tag's values behave, so detection judges them the right way (see
    ``agents/README.md``): a level (``analog``), a level with no set point of its own that
    wanders with any small imbalance (``integrator``: a gas holder's fill), a totaliser or
    operating-hours counter (``counter``), a state, mode or status bit (``discrete``), or an
    alarm bit, word or fault code where anything but 0 is an alarm (``alarm``)."""

    ANALOG = "analog"
    INTEGRATOR = "integrator"
    COUNTER = "counter"
    DISCRETE = "discrete"
    ALARM = "alarm"


#: What a tag measures on the plant, in the vocabulary of ``streams.roles`` (e.g.
#: ``heating.supply_temp``); consumers ignore roles they do not know.
Role = Annotated[str, StringConstraints(min_length=1, max_length=64,
                                        pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")]


class TagSpec(ValueObject):
    """One configured tag as the edge producer polls it: where it comes from and what it means."""

    tag: Tag
    device: Name
    poll_group: Name
    poll_interval_s: Annotated[float, Field(gt=0, description="How often the tag is polled.")]
    unit: Annotated[str, Field(max_length=32)] | None = None
    min: float | None = Field(default=None, description="Lower end of the expected range.")
    max: float | None = Field(default=None, description="Upper end of the expected range.")
    description: Annotated[str, Field(max_length=400)] | None = None
    kind: TagKind | None = Field(default=None, description="How its values behave; None: "
                                                           "detection learns it.")
    role: Role | None = Field(default=None, description="What it measures on the plant "
                                                        "(streams.roles).")

    @model_validator(mode="after")
    def _range_ordered(self) -> TagSpec:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"tag {self.tag!r}: min {self.min} is above max {self.max}")
        return self


class TagsConfigured(EdgeEvent):
    """The tag catalogue an edge producer polls, published when it starts (and on a change):
    units, expected ranges, poll intervals, kinds and roles for everyone downstream.

    Version 2 added ``kind`` and ``role`` to each tag (absent in version 1)."""

    event_type: Literal["tags_configured"] = "tags_configured"
    schema_version: Literal[2] = 2
    configured_at: UtcDatetime
    config_sha256: Sha256 = Field(description="SHA-256 of the plant configuration file.")
    tags: Annotated[tuple[TagSpec, ...], Field(min_length=1)]

    @field_validator("tags")
    @classmethod
    def _tags_unique(cls, tags: tuple[TagSpec, ...]) -> tuple[TagSpec, ...]:
        counts = Counter(t.tag for t in tags)
        duplicates = sorted(tag for tag, n in counts.items() if n > 1)
        if duplicates:
            raise ValueError(f"tag names must be unique in a catalogue; repeated: {duplicates}")
        return tags
