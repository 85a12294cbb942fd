"""The event models: what they accept, what they reject and how they say so."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from streams.codec import decode, encode
from streams.events import (
    EVENT_TYPES,
    AnomalyDetected,
    DeviceStatusChanged,
    EdgeEvent,
    EdgeHeartbeat,
    EventBase,
    FeaturesComputed,
    LabResultRecorded,
    MessageDeadLettered,
    ModelDeployed,
    ModelDriftMeasured,
    ModelShadowCompared,
    Quality,
    Reading,
    ScanRecorded,
    schema_version_of,
)
from tests.examples import BOOT_ID, PLANT, T0, example_events, example_of, scan


def _errors(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return str(exc.value)


def _with(event: BaseModel, **changes: Any) -> dict[str, Any]:
    data = event.model_dump()
    data.update(changes)
    return data


def test_examples_cover_every_event_type_once() -> None:
    assert [e.event_type for e in example_events()] == list(EVENT_TYPES)


@pytest.mark.parametrize("model", list(EVENT_TYPES.values()), ids=list(EVENT_TYPES))
def test_every_event_is_frozen_strict_and_finite(model: type[BaseModel]) -> None:
    config = model.model_config
    assert config.get("frozen") is True
    assert config.get("extra") == "forbid"
    assert config.get("allow_inf_nan") is False


#: event types whose schema moved on; every older version has an upcaster
REVISED = {"tags_configured": 2, "anomaly_detected": 2, "alert_opened": 2, "alert_updated": 2}


@pytest.mark.parametrize("event_type", list(EVENT_TYPES))
def test_event_type_is_snake_case_and_version_is_known(event_type: str) -> None:
    assert re.fullmatch(r"[a-z]+(_[a-z]+)+", event_type)
    assert schema_version_of(EVENT_TYPES[event_type]) == REVISED.get(event_type, 1)


def test_edge_events_share_the_edge_envelope() -> None:
    edge = {t for t, m in EVENT_TYPES.items() if issubclass(m, EdgeEvent)}
    assert edge == {"scan_recorded", "device_status_changed", "edge_heartbeat", "tags_configured"}
    for name in ("plant_id", "edge_boot_id", "seq"):
        for event_type in edge:
            assert EVENT_TYPES[event_type].model_fields[name].is_required()


def test_events_are_frozen() -> None:
    event = scan()
    with pytest.raises(ValidationError, match="frozen"):
        event.seq = 5  # type: ignore[misc]


def test_each_event_gets_its_own_id() -> None:
    assert scan().event_id != scan().event_id


def test_naive_datetime_is_rejected_with_a_clear_error() -> None:
    with pytest.raises(ValidationError) as exc:
        ScanRecorded.model_validate(_with(scan(), source_ts=datetime(2026, 3, 1, 12)))
    assert "source_ts" in _errors(exc)
    assert "timezone" in _errors(exc)


def test_timestamps_are_normalised_to_utc() -> None:
    cet = timezone(timedelta(hours=1))
    event = scan(source_ts=datetime(2026, 3, 1, 13, 0, tzinfo=cet))
    assert event.source_ts == T0
    assert event.source_ts.utcoffset() == timedelta(0)
    assert event.source_ts.tzinfo == UTC


def test_extra_fields_are_rejected() -> None:
    with pytest.raises(ValidationError) as exc:
        ScanRecorded.model_validate(_with(scan(), colour="red"))
    assert "colour" in _errors(exc)
    assert "Extra inputs are not permitted" in _errors(exc)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_reading_value_is_rejected(bad: float) -> None:
    with pytest.raises(ValidationError) as exc:
        Reading(tag="t1", value=bad, quality=Quality.GOOD)
    assert "finite" in _errors(exc)
    assert exc.value.error_count() == 1


@pytest.mark.parametrize(
    ("model", "changes"),
    [
        (FeaturesComputed, {"features": {"mean": math.nan}}),
        (AnomalyDetected, {"score": math.inf}),
        (AnomalyDetected, {"detectors": [{"name": "d", "score": math.nan, "threshold": 1,
                                          "voted": True}]}),
        (LabResultRecorded, {"value": math.nan}),
        (EdgeHeartbeat, {"journal_oldest_age_s": math.nan}),
    ],
)
def test_nan_is_rejected_in_every_float_field(
    model: type[EventBase], changes: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError, match="finite"):
        model.model_validate(_with(example_of(model), **changes))


def test_none_value_needs_a_quality_other_than_good() -> None:
    with pytest.raises(ValidationError, match="quality 'good' but no value"):
        Reading(tag="t1", value=None, quality=Quality.GOOD)
    assert Reading(tag="t1", value=None, quality=Quality.COMM_FAIL).value is None


def test_reading_keeps_the_python_type_of_its_value() -> None:
    assert type(Reading(tag="a", value=True, quality=Quality.GOOD).value) is bool
    assert type(Reading(tag="a", value=1, quality=Quality.GOOD).value) is int
    assert type(Reading(tag="a", value=1.0, quality=Quality.GOOD).value) is float
    assert type(Reading(tag="a", value="1", quality=Quality.GOOD).value) is str


def test_duplicate_tags_in_a_scan_are_rejected() -> None:
    readings = (
        Reading(tag="t1", value=1, quality=Quality.GOOD),
        Reading(tag="t1", value=2, quality=Quality.GOOD),
    )
    with pytest.raises(ValidationError) as exc:
        ScanRecorded.model_validate(_with(scan(), readings=readings))
    assert "unique within a scan" in _errors(exc)
    assert "t1" in _errors(exc)


def test_a_scan_needs_at_least_one_reading() -> None:
    with pytest.raises(ValidationError, match="readings"):
        ScanRecorded.model_validate(_with(scan(), readings=()))


@pytest.mark.parametrize("tag", ["", "has space", "tag/slash", "x" * 129])
def test_bad_tag_names_are_rejected(tag: str) -> None:
    with pytest.raises(ValidationError, match="tag"):
        Reading(tag=tag, value=1, quality=Quality.GOOD)


@pytest.mark.parametrize("plant_id", ["", "Plant-A", "-leading-dash", "a b", "p" * 65])
def test_bad_plant_ids_are_rejected(plant_id: str) -> None:
    with pytest.raises(ValidationError, match="plant_id"):
        scan(plant_id=plant_id)


def test_plant_id_of_64_chars_is_accepted() -> None:
    assert scan(plant_id="p" * 64).plant_id == "p" * 64


def test_negative_seq_is_rejected() -> None:
    with pytest.raises(ValidationError, match="seq"):
        scan(seq=-1)


def test_schema_version_other_than_current_is_rejected() -> None:
    with pytest.raises(ValidationError, match="schema_version"):
        ScanRecorded.model_validate(_with(scan(), schema_version=2))


def test_device_status_rejects_unknown_status() -> None:
    data = _with(example_of(DeviceStatusChanged), status="sleepy")
    with pytest.raises(ValidationError, match="status"):
        DeviceStatusChanged.model_validate(data)


def test_anomaly_tags_must_be_unique_and_present() -> None:
    anomaly = example_of(AnomalyDetected)
    with pytest.raises(ValidationError, match="duplicate entries: a"):
        AnomalyDetected.model_validate(_with(anomaly, tags=("a", "a")))
    with pytest.raises(ValidationError, match="tags"):
        AnomalyDetected.model_validate(_with(anomaly, tags=()))


def test_model_reference_needs_a_sha256_digest() -> None:
    anomaly = example_of(AnomalyDetected)
    bad = {"model_id": "m", "version": "1", "sha256": "A" * 64}
    with pytest.raises(ValidationError, match="sha256"):
        AnomalyDetected.model_validate(_with(anomaly, models=[bad]))


def test_model_deployment_signature_is_a_64_byte_ed25519_signature() -> None:
    deployed = example_of(ModelDeployed)
    with pytest.raises(ValidationError, match="64 bytes, got 3"):
        ModelDeployed.model_validate(_with(deployed, signature="YWJj"))
    with pytest.raises(ValidationError, match="not valid base64"):
        ModelDeployed.model_validate(_with(deployed, signature="not base64!"))


def test_model_deployment_features_are_unique() -> None:
    deployed = example_of(ModelDeployed)
    with pytest.raises(ValidationError, match="duplicate entries: mean"):
        ModelDeployed.model_validate(_with(deployed, features=("mean", "std", "mean")))


def test_drift_measurement_says_drifting_exactly_when_a_feature_crosses_the_threshold() -> None:
    measured = example_of(ModelDriftMeasured)
    assert measured.drifting and measured.psi["drift_t"] > measured.threshold
    with pytest.raises(ValidationError, match=r"drifting is False but .* are \['drift_t'\]"):
        ModelDriftMeasured.model_validate(_with(measured, drifting=False))
    calm = _with(measured, psi={"z_value": 0.04, "drift_t": 0.25})
    with pytest.raises(ValidationError, match=r"drifting is True but .* are none"):
        ModelDriftMeasured.model_validate(calm)
    assert not ModelDriftMeasured.model_validate({**calm, "drifting": False}).drifting


def test_drift_measurement_window_and_values_are_checked() -> None:
    measured = example_of(ModelDriftMeasured)
    with pytest.raises(ValidationError, match=r"window_end .* must be after window_start"):
        ModelDriftMeasured.model_validate(_with(measured, window_start=measured.window_end))
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        ModelDriftMeasured.model_validate(_with(measured, psi={"z_value": -0.1}))
    with pytest.raises(ValidationError, match="at least 1"):
        ModelDriftMeasured.model_validate(_with(measured, psi={}, drifting=False))
    with pytest.raises(ValidationError, match="rows"):
        ModelDriftMeasured.model_validate(_with(measured, rows=0))


def test_shadow_comparison_counts_are_consistent() -> None:
    compared = example_of(ModelShadowCompared)
    assert compared.both_alarms <= min(compared.live_alarms, compared.candidate_alarms)
    with pytest.raises(ValidationError, match="both_alarms 13 exceeds"):
        ModelShadowCompared.model_validate(_with(compared, both_alarms=13))
    with pytest.raises(ValidationError, match="more alarms than the 10 readings"):
        ModelShadowCompared.model_validate(_with(compared, readings=10))
    with pytest.raises(ValidationError, match=r"window_end .* must be after window_start"):
        ModelShadowCompared.model_validate(_with(compared, window_end=compared.window_start))
    assert ModelShadowCompared.model_validate(_with(compared, live=None)).live is None


def test_a_deployment_is_live_unless_it_says_shadow() -> None:
    deployed = example_of(ModelDeployed)
    assert deployed.role == "live"
    # a live deployment is written as before roles existed, and read back as live
    assert b'"role"' not in encode(deployed)
    assert decode(encode(deployed)) == deployed
    shadow = deployed.model_copy(update={"role": "shadow"})
    assert b'"role":"shadow"' in encode(shadow) and decode(encode(shadow)) == shadow
    with pytest.raises(ValidationError, match="'live' or 'shadow'"):
        ModelDeployed.model_validate(_with(deployed, role="canary"))


def test_dead_letter_keeps_raw_bytes() -> None:
    raw = b"\x00\xff not json"
    letter = MessageDeadLettered(
        plant_id=None, source_topic="plant.scans.v1", partition=0, offset=7, key=None,
        payload=MessageDeadLettered.encode_bytes(raw), reason="bad bytes",
        error_type="MalformedEventError", dead_lettered_at=T0, by="agents.features",
    )
    assert letter.payload_bytes() == raw
    assert letter.key_bytes() is None
    assert example_of(MessageDeadLettered).key_bytes() == PLANT.encode()


def test_dead_letter_payload_must_be_base64() -> None:
    letter = example_of(MessageDeadLettered)
    with pytest.raises(ValidationError, match="not valid base64"):
        MessageDeadLettered.model_validate(_with(letter, payload="***"))


def test_heartbeat_counters_are_not_negative() -> None:
    with pytest.raises(ValidationError, match="journal_depth"):
        EdgeHeartbeat(
            plant_id=PLANT, edge_boot_id=BOOT_ID, seq=0, sent_at=T0, journal_depth=-1,
            journal_oldest_age_s=None, journal_bytes=0, dropped_total=0,
        )
