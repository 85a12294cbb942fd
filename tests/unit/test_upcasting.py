"""Upcasters bring older schema versions to the current one before validation."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import orjson
import pytest
from pydantic import BaseModel, ConfigDict

from streams.codec import decode, encode
from streams.errors import UpcastError
from streams.events import (
    EVENT_TYPES,
    AnomalyDetected,
    EdgeHeartbeat,
    TagsConfigured,
    schema_version_of,
)
from streams.upcasting import DEFAULT_UPCASTERS, RawEvent, Upcasters, current_versions
from tests.examples import example_of


class HeartbeatV2(BaseModel):
    """A would-be version 2 of the heartbeat: the journal counters move into one object."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: Literal["edge_heartbeat"]
    schema_version: Literal[2]
    event_id: UUID
    plant_id: str
    edge_boot_id: UUID
    seq: int
    sent_at: datetime
    journal: dict[str, float | int | None]
    dropped_total: int


def _heartbeat_v1_to_v2(raw: RawEvent) -> RawEvent:
    raw["journal"] = {
        "depth": raw.pop("journal_depth"),
        "oldest_age_s": raw.pop("journal_oldest_age_s"),
        "bytes": raw.pop("journal_bytes"),
    }
    return raw


def _heartbeat_v1() -> dict[str, Any]:
    raw: dict[str, Any] = orjson.loads(encode(example_of(EdgeHeartbeat)))
    return raw


def test_v1_heartbeat_upcasts_to_a_valid_v2() -> None:
    registry = Upcasters({"edge_heartbeat": 2})
    registry.register("edge_heartbeat", 1, _heartbeat_v1_to_v2)
    raw = _heartbeat_v1()
    upcast = registry.upcast(raw)
    v2 = HeartbeatV2.model_validate(upcast)
    assert v2.schema_version == 2
    assert v2.journal == {"depth": 3, "oldest_age_s": 4.5, "bytes": 2048}
    assert raw["schema_version"] == 1
    assert "journal_depth" in raw, "the input dict must not be modified"


def test_steps_chain_in_version_order() -> None:
    registry = Upcasters({"edge_heartbeat": 4})
    calls: list[int] = []

    @registry.step("edge_heartbeat", 2)
    def _two_to_three(raw: RawEvent) -> RawEvent:
        calls.append(raw["schema_version"])
        return {**raw, "trail": [*raw["trail"], 3]}

    @registry.step("edge_heartbeat", 1)
    def _one_to_two(raw: RawEvent) -> RawEvent:
        calls.append(raw["schema_version"])
        return {**raw, "trail": [2]}

    @registry.step("edge_heartbeat", 3)
    def _three_to_four(raw: RawEvent) -> RawEvent:
        calls.append(raw["schema_version"])
        return {**raw, "trail": [*raw["trail"], 4]}

    result = registry.upcast(_heartbeat_v1())
    assert calls == [1, 2, 3]
    assert result["trail"] == [2, 3, 4]
    assert result["schema_version"] == 4


def test_missing_step_is_a_clear_error() -> None:
    registry = Upcasters({"edge_heartbeat": 3})
    registry.register("edge_heartbeat", 1, _heartbeat_v1_to_v2)
    with pytest.raises(UpcastError, match="no upcaster from edge_heartbeat v2 to v3"):
        registry.upcast(_heartbeat_v1())


def test_a_failing_step_is_reported_as_an_upcast_error() -> None:
    registry = Upcasters({"edge_heartbeat": 2})
    registry.register("edge_heartbeat", 1, _heartbeat_v1_to_v2)
    raw = _heartbeat_v1()
    del raw["journal_bytes"]
    message = r"edge_heartbeat v1 to v2 failed: KeyError\('journal_bytes'"
    with pytest.raises(UpcastError, match=message):
        registry.upcast(raw)


def test_version_newer_than_known_is_a_clear_error() -> None:
    raw = {**_heartbeat_v1(), "schema_version": 5}
    with pytest.raises(UpcastError, match=r"schema_version 5 is newer .* \(current 1\)"):
        DEFAULT_UPCASTERS.upcast(raw)


@pytest.mark.parametrize("version", [None, "1", 1.0, True])
def test_schema_version_must_be_an_integer(version: object) -> None:
    raw = {**_heartbeat_v1(), "schema_version": version}
    with pytest.raises(UpcastError, match="needs an integer schema_version"):
        DEFAULT_UPCASTERS.upcast(raw)


def test_unknown_event_type_cannot_be_upcast() -> None:
    with pytest.raises(UpcastError, match="unknown type 'nope'"):
        DEFAULT_UPCASTERS.upcast({"event_type": "nope", "schema_version": 1})


@pytest.mark.parametrize(
    ("event_type", "from_version", "message"),
    [
        ("nope", 0, "unknown event type 'nope'"),
        ("edge_heartbeat", 1, "must start below the current version 1"),
        ("edge_heartbeat", -1, "must start below the current version 1"),
    ],
)
def test_bad_registrations_are_refused(event_type: str, from_version: int, message: str) -> None:
    with pytest.raises(UpcastError, match=message):
        Upcasters().register(event_type, from_version, _heartbeat_v1_to_v2)


def test_a_step_registers_once() -> None:
    registry = Upcasters({"edge_heartbeat": 2})
    registry.register("edge_heartbeat", 1, _heartbeat_v1_to_v2)
    with pytest.raises(UpcastError, match="already registered"):
        registry.register("edge_heartbeat", 1, _heartbeat_v1_to_v2)


def test_default_registry_knows_the_models_versions_and_upcasts_every_older_one() -> None:
    assert dict(DEFAULT_UPCASTERS.versions) == {
        t: schema_version_of(m) for t, m in EVENT_TYPES.items()
    }
    assert dict(current_versions()) == dict(DEFAULT_UPCASTERS.versions)
    raw = _heartbeat_v1()
    assert DEFAULT_UPCASTERS.upcast(raw) == raw
    for event_type, model in EVENT_TYPES.items():
        for version in range(1, schema_version_of(model)):
            assert DEFAULT_UPCASTERS.upcast({"event_type": event_type,
                                             "schema_version": version})["schema_version"] \
                == schema_version_of(model)


def test_a_version_1_tag_catalogue_decodes_without_kinds_and_roles() -> None:
    current = example_of(TagsConfigured)
    legacy: dict[str, Any] = orjson.loads(encode(current))
    legacy["schema_version"] = 1
    for tag in legacy["tags"]:
        tag.pop("kind", None)
        tag.pop("role", None)
    decoded = decode(orjson.dumps(legacy))
    assert isinstance(decoded, TagsConfigured) and decoded.schema_version == 2
    assert [t.tag for t in decoded.tags] == [t.tag for t in current.tags]
    assert all(t.kind is None and t.role is None for t in decoded.tags)


def test_decode_runs_the_given_upcasters_before_validation() -> None:
    registry = Upcasters()

    @registry.step("edge_heartbeat", 0)
    def _rename_queue(raw: RawEvent) -> RawEvent:
        raw["journal_depth"] = raw.pop("queue_depth")
        return raw

    current = example_of(EdgeHeartbeat)
    legacy: dict[str, Any] = orjson.loads(encode(current))
    legacy["schema_version"] = 0
    legacy["queue_depth"] = legacy.pop("journal_depth")
    data = orjson.dumps(legacy)

    decoded = decode(data, upcasters=registry)
    assert decoded == current
    with pytest.raises(UpcastError, match="no upcaster from edge_heartbeat v0 to v1"):
        decode(data)


def test_a_version_1_anomaly_names_its_one_model_among_models() -> None:
    current = example_of(AnomalyDetected)
    legacy: dict[str, Any] = orjson.loads(encode(current))
    legacy["schema_version"] = 1
    legacy["model"] = legacy.pop("models")[0]
    del legacy["findings"]
    decoded = decode(orjson.dumps(legacy))
    assert isinstance(decoded, AnomalyDetected)
    assert decoded.models == current.models and decoded.findings == ()
    legacy["model"] = None
    assert decode(orjson.dumps(legacy)).models == ()  # type: ignore[union-attr]
