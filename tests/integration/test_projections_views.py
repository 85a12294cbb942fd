"""The query views on the real database, fed through the projector's store: completeness with a
silent hour, ledger gaps, late data in rollups, latest values and alert merging in any order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from projections.store import Applied, ProjectionStore, RawMessage
from streams.codec import encode
from streams.events import (
    AlertAcknowledged,
    AlertCleared,
    AlertCommented,
    AlertOpened,
    AlertUpdated,
    EventBase,
    Quality,
    Reading,
    ScanRecorded,
    Severity,
)
from streams.settings import DatabaseSettings
from tests.integration.projections_harness import query

T = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
BOOT = uuid.UUID("00000000-0000-4000-8000-000000000001")


def _scan(seq: int, at: datetime, value: float, quality: Quality = Quality.GOOD) -> ScanRecorded:
    return ScanRecorded(plant_id="p", edge_boot_id=BOOT, seq=seq, device="plc", poll_group="slow",
                        source_ts=at, readings=(Reading(tag="t", value=value, quality=quality),))


def _apply(database: DatabaseSettings, events: list[EventBase], topic: str = "x") -> None:
    store = ProjectionStore(database)
    try:
        start = store.positions("p1", [(topic, 0)])[(topic, 0)]
        first = start or 0
        messages = [RawMessage(topic, 0, first + i, encode(e)) for i, e in enumerate(events)]
        assert isinstance(store.apply("p1", messages, {(topic, 0): start}, must_be_live=True),
                          Applied)
    finally:
        store.close()


def test_completeness_shows_a_silent_hour_and_the_ledger_its_missing_seqs(
        database: DatabaseSettings) -> None:
    # One scan a minute from 10:00 to 12:59, but nothing from 11:00 to 11:59 (seq 60-119 lost).
    scans = [_scan(i, T + timedelta(minutes=i), float(i)) for i in range(180) if not 60 <= i < 120]
    _apply(database, list(scans))
    rows = query(database, "SELECT hour, expected_count, received_count, completeness "
                           "FROM completeness_hourly ORDER BY hour")
    assert rows == [(T, 60, 60, 1.0), (T + timedelta(hours=1), 60, 0, 0.0),
                    (T + timedelta(hours=2), 60, 60, 1.0)]
    ledger = query(database, "SELECT max_seq, received_count, missing_count, duplicate_count, "
                             "missing_seqs::text FROM delivery_ledger")
    assert ledger == [(179, 120, 60, 0, "{[60,120)}")]


def test_late_readings_update_their_rollups_and_not_the_latest_value(
        database: DatabaseSettings) -> None:
    _apply(database, [_scan(0, T, 1.0), _scan(1, T + timedelta(seconds=30), 3.0),
                      _scan(2, T + timedelta(minutes=5), 10.0)])
    # Backfill after the fact: the first minute gets two more readings, one of them bad.
    _apply(database, [_scan(3, T + timedelta(seconds=10), 8.0),
                      _scan(4, T + timedelta(seconds=20), 0.0, Quality.OUT_OF_RANGE)])
    first_minute = query(database, "SELECT sample_count, bad_count, value_count, value_min, "
                                   "value_max, value_avg, value_last, last_time FROM rollup_1m "
                                   "WHERE bucket = %s", T)
    assert first_minute == [(4, 1, 3, 1.0, 8.0, 4.0, 3.0, T + timedelta(seconds=30))]
    hour = query(database, "SELECT sample_count, value_avg FROM rollup_1h")
    assert hour == [(5, 5.5)]
    assert query(database, "SELECT value, seq FROM latest_readings") == [(10.0, 2)]


def test_alert_state_is_the_same_whatever_order_its_events_arrive_in(
        database: DatabaseSettings) -> None:
    alert = uuid.uuid4()
    events: list[EventBase] = [
        AlertOpened(alert_id=alert, plant_id="p", severity=Severity.WARNING, tags=("t",),
                    title="x", opened_at=T, anomaly_ids=(uuid.uuid4(),)),
        AlertUpdated(alert_id=alert, plant_id="p", severity=Severity.CRITICAL, anomaly_count=5,
                     last_anomaly_at=T + timedelta(minutes=5),
                     updated_at=T + timedelta(minutes=5)),
        AlertAcknowledged(alert_id=alert, plant_id="p", acknowledged_by="b",
                          acknowledged_at=T + timedelta(minutes=9)),
        AlertAcknowledged(alert_id=alert, plant_id="p", acknowledged_by="a",
                          acknowledged_at=T + timedelta(minutes=7)),
        AlertCommented(alert_id=alert, plant_id="p", author="a", comment="c",
                       commented_at=T + timedelta(minutes=8)),
        AlertCleared(alert_id=alert, plant_id="p", cleared_at=T + timedelta(hours=1),
                     reason="ok"),
    ]
    # Commands (ack, comment) come from another topic: they may be projected first.
    _apply(database, events[2:5], topic="commands")
    assert query(database, "SELECT state FROM alerts") == [("acknowledged",)]
    _apply(database, [events[0], events[1], events[5]], topic="alerts")
    assert query(database, "SELECT state, severity, anomaly_count, acknowledged_by, "
                           "acknowledged_at, comment_count, title FROM alerts") == [
        ("cleared", "critical", 5, "a", T + timedelta(minutes=7), 1, "x")]
    assert query(database, "SELECT count(*) FROM alert_history") == [(6,)]
