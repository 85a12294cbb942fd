"""Events turned into the rows of one batch: pure Python, no database.

Every aggregate here merges associatively and commutatively with what is already stored, so the
tables come out the same however the log is cut into batches: rollup sums are exact decimals
(the exact value of each double), ``last``/``latest`` break ties on a total order, the delivery
ledger keeps the set of received sequence numbers as ranges.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from projections.values import Rollup, clean_text, series_id, split_value
from streams.events import (
    AlertAcknowledged,
    AlertCleared,
    AlertCommented,
    AlertOpened,
    AlertUpdated,
    AnomalyDetected,
    DeviceStatusChanged,
    EdgeHeartbeat,
    LabResultRecorded,
    Quality,
    ScanRecorded,
    TagsConfigured,
)

#: Columns of the readings table, in COPY order.
READING_COLUMNS = ("series_id", "time", "value", "value_text", "quality")
#: Intervals between scans are counted in steps of this many milliseconds.
INTERVAL_STEP_MS = 10
#: Gaps longer than this are outages, not poll intervals.
MAX_INTERVAL_MS = 3_600_000
_GOOD = Quality.GOOD.value
_QUALITY_VALUES = {q: q.value for q in Quality}
ReadingRow = tuple[int, datetime, float | None, str | None, str]
AlertEvent = AlertOpened | AlertUpdated | AlertAcknowledged | AlertCommented | AlertCleared


def bucket_start(time: datetime, width: timedelta) -> datetime:
    """The start of the ``width`` bucket holding ``time`` (like ``date_bin`` from the epoch)."""
    if width == timedelta(minutes=1):
        return time.replace(second=0, microsecond=0)
    if width == timedelta(hours=1):
        return time.replace(minute=0, second=0, microsecond=0)
    raise ValueError(f"unsupported rollup width {width}")


@dataclass(slots=True)
class Latest:
    """The newest reading of a tag, ordered by (time, edge_boot_id, seq)."""

    time: datetime
    value: float | None
    value_text: str | None
    quality: str
    edge_boot_id: UUID
    seq: int

    order: tuple[datetime, int, int]


@dataclass(slots=True)
class LedgerDelta:
    """What one batch adds to the delivery ledger of one edge boot."""

    seqs: list[int] = field(default_factory=list)
    delivered: int = 0
    first_event_at: datetime | None = None
    last_event_at: datetime | None = None
    heartbeat: EdgeHeartbeat | None = None

    def saw(self, at: datetime) -> None:
        self.delivered += 1
        if self.first_event_at is None or at < self.first_event_at:
            self.first_event_at = at
        if self.last_event_at is None or at > self.last_event_at:
            self.last_event_at = at

    def ranges_literal(self) -> str:
        """The accepted sequence numbers as an ``int8multirange`` literal."""
        return multirange_literal(self.seqs)


def multirange_literal(values: list[int]) -> str:
    """Integers as a canonical multirange literal: ``{[0,3),[5,6)}``."""
    parts: list[str] = []
    ordered = sorted(set(values))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(f"[{ordered[i]},{ordered[j] + 1})")
        i = j + 1
    return "{" + ",".join(parts) + "}"


EdgeRecord = ScanRecorded | DeviceStatusChanged | EdgeHeartbeat | TagsConfigured


def event_time_of(event: EdgeRecord) -> datetime:
    if isinstance(event, ScanRecorded):
        return event.source_ts
    if isinstance(event, DeviceStatusChanged):
        return event.changed_at
    if isinstance(event, TagsConfigured):
        return event.configured_at
    return event.sent_at


def interval_counts(previous: datetime | None, times: list[datetime]
                    ) -> tuple[Counter[int], datetime]:
    """Intervals between consecutive scans of one poll group, in log order, rounded to
    ``INTERVAL_STEP_MS``; non-positive and outage-length gaps are not intervals."""
    counts: Counter[int] = Counter()
    last = previous
    for time in times:
        if last is not None:
            ms = round((time - last).total_seconds() * 1000 / INTERVAL_STEP_MS) * INTERVAL_STEP_MS
            if 0 < ms <= MAX_INTERVAL_MS:
                counts[ms] += 1
        last = time
    assert last is not None, "interval_counts needs at least one time"
    return counts, last


@dataclass
class BatchRows:
    """Everything one batch writes, keyed so each table gets one row per key."""

    readings: list[ReadingRow] = field(default_factory=list)
    rollup_1m: dict[tuple[str, str, datetime], Rollup] = field(default_factory=dict)
    series: dict[tuple[str, str], int] = field(default_factory=dict)
    latest: dict[tuple[str, str], Latest] = field(default_factory=dict)
    tag_sources: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    scan_times: dict[tuple[str, str, str], list[datetime]] = field(default_factory=dict)
    ledger: dict[tuple[str, UUID], LedgerDelta] = field(default_factory=dict)
    device_status: list[DeviceStatusChanged] = field(default_factory=list)
    catalogues: list[TagsConfigured] = field(default_factory=list)
    anomalies: list[AnomalyDetected] = field(default_factory=list)
    alert_events: list[AlertEvent] = field(default_factory=list)
    lab_results: list[LabResultRecorded] = field(default_factory=list)
    rejected: list[tuple[str, int, int, str, str, bytes]] = field(default_factory=list)

    def ledger_of(self, plant_id: str, boot: UUID) -> LedgerDelta:
        delta = self.ledger.get((plant_id, boot))
        if delta is None:
            delta = self.ledger[(plant_id, boot)] = LedgerDelta()
        return delta

    def add_duplicate(self, event: EdgeRecord) -> None:
        """An edge event whose sequence number was seen before: only the ledger counts it."""
        self.ledger_of(event.plant_id, event.edge_boot_id).saw(event_time_of(event))

    def add_edge(self, event: EdgeRecord) -> None:
        delta = self.ledger_of(event.plant_id, event.edge_boot_id)
        delta.saw(event_time_of(event))
        delta.seqs.append(event.seq)
        if isinstance(event, ScanRecorded):
            self._add_scan(event)
        elif isinstance(event, DeviceStatusChanged):
            self.device_status.append(event)
        elif isinstance(event, TagsConfigured):
            self.catalogues.append(event)
        elif delta.heartbeat is None or event.sent_at > delta.heartbeat.sent_at:
            delta.heartbeat = event

    def rollup_1h(self) -> dict[tuple[str, str, datetime], Rollup]:
        """The hourly partials, merged from the minute partials."""
        hourly: dict[tuple[str, str, datetime], Rollup] = {}
        for (plant, tag, minute), partial in self.rollup_1m.items():
            key = (plant, tag, minute.replace(minute=0))
            acc = hourly.get(key)
            if acc is None:
                acc = hourly[key] = Rollup()
            acc.merge(partial)
        return hourly

    def _add_scan(self, scan: ScanRecorded) -> None:
        plant, time = scan.plant_id, scan.source_ts
        minute = time.replace(second=0, microsecond=0)
        self.scan_times.setdefault((plant, clean_text(scan.device), clean_text(scan.poll_group)),
                                   []).append(time)
        boot, seq = scan.edge_boot_id, scan.seq
        source = (clean_text(scan.device), clean_text(scan.poll_group))
        order = (time, boot.int, seq)
        readings, rollups, latest = self.readings, self.rollup_1m, self.latest
        series, sources = self.series, self.tag_sources
        for reading in scan.readings:
            tag, quality, value = reading.tag, _QUALITY_VALUES[reading.quality], reading.value
            number: float | None
            text: str | None
            if type(value) is float:  # the common case of split_value, inlined: hot path
                number, text = value, None
            else:
                number, text = split_value(value)
            key = (plant, tag)
            sid = series.get(key)
            if sid is None:
                sid = series[key] = series_id(plant, tag)
                sources[key] = source
            elif sources[key] != source:
                sources[key] = source
            readings.append((sid, time, number, text, quality))
            bucket = (plant, tag, minute)
            acc = rollups.get(bucket)
            if acc is None:
                acc = rollups[bucket] = Rollup()
            acc.add(time, number, quality == _GOOD)
            current = latest.get(key)
            if current is None or order > current.order:
                latest[key] = Latest(time, number, text, quality, boot, seq, order)
