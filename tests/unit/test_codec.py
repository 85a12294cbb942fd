"""The wire format: every event survives encode/decode; bad bytes fail with a clear error."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from streams.codec import decode, encode
from streams.errors import (
    ContractError,
    InvalidEventError,
    MalformedEventError,
    UnknownEventTypeError,
    UpcastError,
)
from streams.events import EVENT_TYPES, Event, ScanRecorded
from tests.examples import example_events, scan

EXAMPLES = example_events()


def _raw(event: Event) -> dict[str, Any]:
    raw: dict[str, Any] = orjson.loads(encode(event))
    return raw


@pytest.mark.parametrize("event", EXAMPLES, ids=[e.event_type for e in EXAMPLES])
def test_every_event_type_round_trips(event: Event) -> None:
    data = encode(event)
    decoded = decode(data)
    assert type(decoded) is type(event)
    assert decoded == event
    assert encode(decoded) == data


def test_encoding_is_plain_json_with_utc_timestamps() -> None:
    raw = _raw(scan())
    assert raw["event_type"] == "scan_recorded"
    assert raw["schema_version"] == 1
    assert raw["source_ts"] == "2026-03-01T12:00:00Z"
    assert raw["readings"][0] == {"tag": "digester1.temp_c", "value": 38.2, "quality": "good"}


def test_reading_values_keep_their_json_type() -> None:
    decoded = decode(encode(scan()))
    assert isinstance(decoded, ScanRecorded)
    values = {r.tag: r.value for r in decoded.readings}
    assert type(values["digester1.temp_c"]) is float
    assert type(values["digester1.level_pct"]) is int
    assert type(values["chp1.running"]) is bool
    assert type(values["chp1.state"]) is str
    assert values["gas.ch4_pct"] is None


def test_integral_float_stays_float_and_int_stays_int() -> None:
    raw = _raw(scan())
    raw["readings"] = [
        {"tag": "f", "value": 1.0, "quality": "good"},
        {"tag": "i", "value": 1, "quality": "good"},
        {"tag": "b", "value": False, "quality": "good"},
    ]
    decoded = decode(orjson.dumps(raw))
    assert isinstance(decoded, ScanRecorded)
    assert [type(r.value) for r in decoded.readings] == [float, int, bool]


def test_offset_timestamps_are_decoded_to_utc() -> None:
    raw = _raw(scan())
    raw["source_ts"] = "2026-03-01T14:00:00+02:00"
    decoded = decode(orjson.dumps(raw))
    assert isinstance(decoded, ScanRecorded)
    assert decoded.source_ts == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert decoded.source_ts.tzinfo is UTC


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not json", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object, got list"),
        (b'"scan_recorded"', "must be a JSON object, got str"),
        (b'{"schema_version": 1}', "string 'event_type'"),
        (b'{"event_type": 7}', "string 'event_type'"),
    ],
)
def test_malformed_bytes_are_rejected(data: bytes, message: str) -> None:
    with pytest.raises(MalformedEventError, match=message):
        decode(data)


def test_nan_token_in_json_is_rejected() -> None:
    text = encode(scan()).decode().replace('"value":38.2', '"value":NaN')
    assert "NaN" in text
    with pytest.raises(MalformedEventError, match="not valid JSON"):
        decode(text.encode())


def test_unknown_event_type_names_it_and_lists_known_types() -> None:
    with pytest.raises(UnknownEventTypeError) as exc:
        decode(b'{"event_type": "scan_recorde", "schema_version": 1}')
    assert exc.value.event_type == "scan_recorde"
    assert set(exc.value.known) == set(EVENT_TYPES)
    assert "'scan_recorde'" in str(exc.value)
    assert "scan_recorded" in str(exc.value)


def test_extra_field_is_rejected_with_its_path() -> None:
    raw = _raw(scan())
    raw["readings"][1]["colour"] = "red"
    with pytest.raises(InvalidEventError) as exc:
        decode(orjson.dumps(raw))
    assert exc.value.event_type == "scan_recorded"
    assert exc.value.problems == ("readings.1.colour: Extra inputs are not permitted",)


def test_naive_timestamp_is_rejected() -> None:
    raw = _raw(scan())
    raw["source_ts"] = "2026-03-01T12:00:00"
    with pytest.raises(InvalidEventError) as exc:
        decode(orjson.dumps(raw))
    assert exc.value.problems == ("source_ts: Input should have timezone info",)


def test_none_value_with_good_quality_is_rejected() -> None:
    raw = _raw(scan())
    raw["readings"][0]["value"] = None
    with pytest.raises(InvalidEventError) as exc:
        decode(orjson.dumps(raw))
    (problem,) = exc.value.problems
    assert problem.startswith("readings.0: ")
    assert "quality 'good' but no value" in problem


def test_duplicate_tags_are_rejected() -> None:
    raw = _raw(scan())
    raw["readings"][1]["tag"] = raw["readings"][0]["tag"]
    with pytest.raises(InvalidEventError) as exc:
        decode(orjson.dumps(raw))
    (problem,) = exc.value.problems
    assert problem.startswith("readings: ")
    assert "digester1.temp_c" in problem


def test_every_problem_is_listed_with_its_field_path() -> None:
    raw = _raw(scan())
    del raw["device"]
    raw["seq"] = -1
    raw["readings"][0]["quality"] = "excellent"
    with pytest.raises(InvalidEventError) as exc:
        decode(orjson.dumps(raw))
    paths = [p.split(":")[0] for p in exc.value.problems]
    assert paths == ["seq", "device", "readings.0.quality"]
    assert str(exc.value).startswith("invalid scan_recorded event: seq: ")


def test_invalid_item_does_not_also_report_the_tuple_too_short() -> None:
    raw = _raw(scan())
    raw["readings"] = [{"tag": "a b", "value": 1, "quality": "good"}]
    with pytest.raises(InvalidEventError) as exc:
        decode(orjson.dumps(raw))
    assert [p.split(":")[0] for p in exc.value.problems] == ["readings.0.tag"]


@pytest.mark.parametrize("field", ["event_id", "schema_version"])
def test_envelope_fields_are_required_on_the_wire(field: str) -> None:
    raw = _raw(scan())
    del raw[field]
    with pytest.raises(ContractError, match=field):
        decode(orjson.dumps(raw))


def test_newer_schema_version_is_rejected() -> None:
    raw = _raw(scan())
    raw["schema_version"] = 2
    with pytest.raises(UpcastError, match="newer than this code knows"):
        decode(orjson.dumps(raw))


@pytest.mark.parametrize(
    "error", [MalformedEventError, UnknownEventTypeError, InvalidEventError, UpcastError]
)
def test_codec_errors_are_contract_errors(error: type[Exception]) -> None:
    assert issubclass(error, ContractError)


def test_decode_accepts_str_and_memoryview() -> None:
    data = encode(scan())
    assert decode(data.decode()) == decode(memoryview(data))
