"""Rows of a projection batch: value splitting, exact rollups that merge in any grouping,
latest-value ordering, delivery ledger ranges, poll intervals and duplicate detection."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from projections.rows import BatchRows, bucket_start, interval_counts, multirange_literal
from projections.store import RawMessage, SeqSet, decode_batch
from projections.values import (
    Rollup,
    clean,
    exact_scaled,
    json_of,
    scaled_to_decimal,
    series_id,
    split_value,
)
from streams.codec import encode
from streams.events import Quality, Reading, ScanRecorded
from tests.examples import BOOT_ID, T0, scan

finite = st.floats(allow_nan=False, allow_infinity=False)


def test_values_keep_their_type_across_the_two_columns() -> None:
    assert split_value(38.5) == (38.5, None)
    assert split_value(71) == (71.0, None)
    assert split_value(True) == (1.0, "true")
    assert split_value(False) == (0.0, "false")
    assert split_value("run") == (None, "run")
    assert split_value(None) == (None, None)


def test_nul_characters_which_postgresql_cannot_store_become_replacement_characters() -> None:
    assert split_value("a\x00b") == (None, "a\ufffdb")
    assert clean({"k\x00": ["x\x00", ("y", 1)], "n": None}) == {
        "k\ufffd": ["x\ufffd", ("y", 1)], "n": None}
    assert json_of({"c": "\x00"}) == '{"c":"\ufffd"}'


@given(finite)
def test_exact_scaled_is_the_exact_value_of_the_double(x: float) -> None:
    assert Fraction(exact_scaled(x), 2**1074) == Fraction(x)
    assert scaled_to_decimal(exact_scaled(x)) == Decimal(x)


@given(st.lists(finite, min_size=1, max_size=40), st.integers(min_value=0, max_value=40))
def test_rollup_partials_merge_to_the_same_row_however_the_readings_are_split(
        values: list[float], cut: int) -> None:
    times = [T0 + timedelta(seconds=i % 7) for i in range(len(values))]
    whole, left, right = Rollup(), Rollup(), Rollup()
    for i, (t, v) in enumerate(zip(times, values, strict=True)):
        whole.add(t, v, True)
        (left if i < cut else right).add(t, v, True)
    right.merge(left)  # merged in the other order on purpose
    assert right.row() == whole.row()
    exact_sum = whole.row()[5]
    assert exact_sum is not None
    assert Fraction(exact_sum) == sum((Fraction(v) for v in values), Fraction(0))


def test_rollup_counts_bad_and_non_numeric_readings_without_statistics() -> None:
    acc = Rollup()
    acc.add(T0, None, False)
    acc.add(T0, None, True)  # a good string reading: counted, no statistics
    assert acc.row() == (2, 1, 0, None, None, None, None, None)
    acc.add(T0 + timedelta(seconds=1), 2.0, True)
    acc.add(T0 + timedelta(seconds=1), 3.0, True)  # same time: the larger value is "last"
    acc.add(T0, 9.0, True)  # earlier time does not become "last"
    assert acc.row() == (5, 1, 3, 2.0, 9.0, Decimal(14), T0 + timedelta(seconds=1), 3.0)


def test_buckets_start_on_the_minute_and_the_hour() -> None:
    t = datetime(2026, 3, 1, 12, 34, 56, 789, tzinfo=UTC)
    assert bucket_start(t, timedelta(minutes=1)) == datetime(2026, 3, 1, 12, 34, tzinfo=UTC)
    assert bucket_start(t, timedelta(hours=1)) == datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_series_ids_are_stable_signed_64_bit_hashes() -> None:
    a = series_id("plant-a", "dig.temp")
    assert a == series_id("plant-a", "dig.temp")
    assert a != series_id("plant-a", "dig.tem")
    assert a != series_id("plant-ad", "ig.temp")
    assert -(2**63) <= a < 2**63


def test_multirange_literal_compacts_runs() -> None:
    assert multirange_literal([5, 0, 1, 2, 7, 6, 9]) == "{[0,3),[5,8),[9,10)}"
    assert multirange_literal([]) == "{}"


def test_poll_intervals_continue_from_the_stored_scan_and_skip_outages() -> None:
    times = [T0 + timedelta(seconds=s) for s in (5, 10.004, 15, 7200, 7205)]
    counts, last = interval_counts(T0, times)
    assert counts == {5000: 4}
    assert last == times[-1]
    backwards, _ = interval_counts(T0, [T0 - timedelta(seconds=1)])
    assert not backwards


def test_a_sequence_number_seen_before_or_twice_in_a_batch_is_a_duplicate() -> None:
    boot = uuid.uuid4()
    seen = SeqSet({("p", boot): [(0, 10), (20, 25)]})
    assert not seen.add("p", boot, 0)
    assert not seen.add("p", boot, 24)
    assert seen.add("p", boot, 10)
    assert not seen.add("p", boot, 10)
    assert seen.add("p", boot, 19)
    assert seen.add("q", boot, 0)


def test_a_batch_rows_scans_into_readings_rollups_latest_and_ledger() -> None:
    rows = BatchRows()
    first, second = scan(seq=0), scan(seq=1, source_ts=T0 + timedelta(seconds=70))
    for event in (second, first):  # out of order: the latest is still the newer scan
        rows.add_edge(event)
    rows.add_duplicate(first)
    assert len(rows.readings) == 2 * len(first.readings)
    assert rows.latest[("plant-a", "digester1.temp_c")].seq == 1
    assert len(rows.rollup_1m) == 2 * len(first.readings)
    hourly = rows.rollup_1h()
    assert hourly[("plant-a", "digester1.temp_c", T0)].row()[0] == 2
    ledger = rows.ledger[("plant-a", BOOT_ID)]
    assert (ledger.delivered, ledger.ranges_literal()) == (3, "{[0,2)}")
    assert rows.scan_times[("plant-a", "plc1", "fast")] == [second.source_ts, first.source_ts]


def test_undecodable_messages_are_kept_with_their_reason() -> None:
    good = ScanRecorded(plant_id="p", edge_boot_id=BOOT_ID, seq=0, device="d", poll_group="g",
                        source_ts=T0, readings=(Reading(tag="t", value=1, quality=Quality.GOOD),))
    decoded = decode_batch([RawMessage("t", 0, 0, encode(good)), RawMessage("t", 0, 1, b"{"),
                            RawMessage("t", 0, 2, None)])
    assert decoded[0][1] == good
    assert isinstance(decoded[1][1], str) and "JSON" in decoded[1][1]
    assert decoded[2][1] == "message has no value"
