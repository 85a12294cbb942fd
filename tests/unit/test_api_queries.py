"""Pure parts of the API: bucket planning, cursors, SSE positions, lab CSV parsing, profiles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.errors import ApiProblemError
from api.lab_csv import LabCsvError, parse_lab_csv
from api.params import TimeRange, decode_cursor, encode_cursor, time_range
from api.profiles import load_profiles
from api.readings_query import plan
from api.routes_stream import format_position, parse_position
from streams.errors import ConfigError

T0 = datetime(2026, 3, 1, 0, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(("hours", "points", "width", "source"), [
    (1, 3600, 1, "readings"), (1, 100, 36, "readings"), (24, 1440, 60, "rollup_1m"),
    (24, 1000, 120, "rollup_1m"), (24 * 7, 100, 7200, "rollup_1h"),
    (24 * 30, 1000, 2640, "rollup_1m"), (24 * 30, 500, 7200, "rollup_1h")])
def test_bucket_plan(hours: int, points: int, width: int, source: str) -> None:
    span = TimeRange(T0, T0 + timedelta(hours=hours))
    bucket = plan(span, points)
    assert (bucket.width_s, bucket.source) == (width, source)
    assert span.seconds / bucket.width_s <= points
    grain = {"readings": 1, "rollup_1m": 60, "rollup_1h": 3600}[source]
    assert bucket.origin <= T0 and bucket.origin.timestamp() % grain == 0


def test_time_ranges_and_cursors_reject_nonsense() -> None:
    with pytest.raises(ApiProblemError, match="before"):
        time_range(T0, T0)
    with pytest.raises(ApiProblemError, match="1970"):
        time_range(datetime(1, 1, 1), T0)
    assert decode_cursor(encode_cursor(["a", 1]), 2) == ["a", 1]
    for bad in ("!!!", encode_cursor(["a"]), "e30"):
        with pytest.raises(ApiProblemError):
            decode_cursor(bad, 2)


def test_stream_positions_round_trip() -> None:
    position = {("a", 0): 5, ("a", 1): 0, ("l", 0): 7, ("c", 0): 1, ("c", 1): 2}
    text = format_position(position)
    assert text == "a:5,0|l:7|c:1,2"
    assert parse_position(text) == position
    with pytest.raises(ApiProblemError):
        parse_position("a:5;drop table")


def test_lab_csv_names_every_bad_line() -> None:
    ok = parse_lab_csv(b"sample_id,analyte,value,unit,sampled_at\n"
                       b"S-1,fos_tac,0.3,-,2026-03-01T08:00:00Z\n")
    assert ok[0].analyte.value == "fos_tac"
    with pytest.raises(LabCsvError) as info:
        parse_lab_csv(b"sample_id,analyte,value,unit,sampled_at\n"
                      b"S-1,ts,x,%,2026-03-01T08:00:00Z\nS-2,ts,1,%,2026-03-01T08:00:00\n")
    assert "line 2: value" in str(info.value) and "line 3: sampled_at" in str(info.value)
    with pytest.raises(LabCsvError, match="header"):
        parse_lab_csv(b"a,b\n1,2\n")
    with pytest.raises(LabCsvError, match="UTF-8"):
        parse_lab_csv(b"\xff\xfe")


HEADER = b"sample_id,analyte,value,unit,sampled_at"
ROW = b"S-1,fos_tac,0.3,-,2026-03-01T08:00:00Z"


def test_lab_csv_takes_any_line_ending_and_names_the_file_line() -> None:
    for end in (b"\n", b"\r\n", b"\r"):
        assert len(parse_lab_csv(HEADER + end + ROW + end + ROW)) == 2
    with pytest.raises(LabCsvError, match=r"^line 4: value"):
        parse_lab_csv(HEADER + b"\r\n\r\n" + ROW + b"\r\nS-1,ts,x,%,2026-03-01T08:00:00Z\r\n")
    assert parse_lab_csv(HEADER + b'\n"S\r\n1",ts,1,%,2026-03-01T08:00:00Z\n')[0].sample_id \
        == "S\r\n1"


@pytest.mark.parametrize(("data", "why"), [
    # the file schemathesis uploaded: one line with a bare CR inside an unquoted field
    (b"\xf2\x9b\xb9\xb2\xf2\x87\x8b\x87\xc3\x91\xf0\xb5\x95\xa4\xf3\xa8\xbe\x94\xf2\xaf\xaf\xbe"
     b"\xc2\xb5\r~\xc3\x95_\xc2\x85\x05", "header must name"),
    (HEADER + b"\nS-1,ts,3\r2,%,2026-03-01T08:00:00Z\n", "line 2: unit"),
    (b"\x00", "header must name"),
    (HEADER + b"\nS-1\x00,ts,1,%,2026-03-01T08:00:00Z\n", "control characters"),
    (b'"' + b"a" * 200_000 + b'"', "line 1: not a readable CSV"),
    (HEADER + b'\n"' + b"a" * 200_000 + b'",ts,1,%,2026-03-01T08:00:00Z', "line 2: not a readable"),
])
def test_lab_csv_rejects_malformed_text_with_a_reason(data: bytes, why: str) -> None:
    with pytest.raises(LabCsvError, match=why):
        parse_lab_csv(data)


def test_profiles_file(tmp_path: Path) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text('[plants.plant-b]\nworking_volume_m3 = 4000\n')
    profiles = load_profiles(path)
    assert profiles.for_plant("plant-b").working_volume_m3 == 4000
    assert profiles.for_plant("plant-a").chp_rated_kw == 500
    path.write_text('[plants.plant-b]\nworking_volume_m3 = -1\n')
    with pytest.raises(ConfigError, match=r"plants\.plant-b\.working_volume_m3"):
        load_profiles(path)
