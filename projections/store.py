"""Apply a batch of log messages to one projection version, exactly once.

One database transaction per batch: it locks the stored offsets of the batch's partitions,
checks they are where the caller's consumer started reading, writes every row and moves the
offsets. If the stored offsets are elsewhere (a crash after commit, another consumer, a version
switch) nothing is written and the caller re-seeks to the stored offsets.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from uuid import UUID

import psycopg

from projections import writers
from projections.alert_writer import write_alerts
from projections.db import open_connection, translated
from projections.errors import ProjectionError
from projections.rows import BatchRows
from streams.codec import decode
from streams.errors import ContractError
from streams.events import (
    AlertAcknowledged,
    AlertCleared,
    AlertCommented,
    AlertOpened,
    AlertUpdated,
    AnomalyDetected,
    DeviceStatusChanged,
    EdgeHeartbeat,
    Event,
    LabResultRecorded,
    ScanRecorded,
    TagsConfigured,
)
from streams.settings import DatabaseSettings

TopicPartition = tuple[str, int]
EdgeEvent = ScanRecorded | DeviceStatusChanged | EdgeHeartbeat | TagsConfigured
_ALERTS = (AlertOpened, AlertUpdated, AlertAcknowledged, AlertCommented, AlertCleared)


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One consumed record, independent of the Kafka client."""

    topic: str
    partition: int
    offset: int
    value: bytes | None


Decoded = tuple[RawMessage, Event | str]


@dataclass(frozen=True)
class Applied:
    """The batch was written; ``positions`` are the next offsets now stored."""

    positions: dict[TopicPartition, int]
    events: int
    readings: int
    series: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Stale:
    """Nothing was written: the stored offsets or the live version are not what the caller
    assumed. Reload positions (and the live version) and seek."""

    reason: str


class ProjectionStore:
    """The database side of a projector: one connection, reopened after failures."""

    def __init__(self, settings: DatabaseSettings, *,
                 application_name: str = "biogas-projections") -> None:
        self._settings = settings
        self._application_name = application_name
        self._conn: psycopg.Connection | None = None
        self._partitions: set[tuple[str, date]] = set()
        self._series: set[tuple[str, int]] = set()

    def connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = open_connection(self._settings,
                                         application_name=self._application_name)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def reset(self) -> None:
        """Drop the connection after an error; the next call reconnects."""
        self.close()
        self._partitions.clear()
        self._series.clear()

    def live_prefix(self) -> str:
        with translated():
            row = self.connection().execute("SELECT prefix FROM projection_live").fetchone()
        if row is None:
            raise ProjectionError("projection_live is empty: run `biogas projections migrate`")
        return str(row[0])

    def positions(self, prefix: str, tps: Sequence[TopicPartition]
                  ) -> dict[TopicPartition, int | None]:
        """The stored next offset of each partition (None: never projected, start at the
        beginning of the partition)."""
        with translated():
            rows = self.connection().execute(
                "SELECT topic, partition, next_offset FROM projection_offsets "
                "WHERE projection = %s", (prefix,)).fetchall()
        stored = {(t, p): o for t, p, o in rows}
        return {tp: stored.get(tp) for tp in tps}

    def apply(self, prefix: str, messages: Sequence[RawMessage],
              expected: dict[TopicPartition, int | None], *, must_be_live: bool) -> Applied | Stale:
        """Write ``messages`` (in log order per partition, each partition's first message at
        ``expected``) into version ``prefix`` and store the new offsets, in one transaction."""
        return self.apply_decoded(prefix, decode_batch(messages), expected,
                                  must_be_live=must_be_live)

    def apply_decoded(self, prefix: str, decoded: list[Decoded],
                      expected: dict[TopicPartition, int | None], *,
                      must_be_live: bool) -> Applied | Stale:
        """:meth:`apply` for messages already decoded with :func:`decode_batch`."""
        days = {e.source_ts.date() for _, e in decoded if isinstance(e, ScanRecorded)}
        missing = {d for d in days if (prefix, d) not in self._partitions}
        with translated():
            conn = self.connection()
            with conn.transaction():
                outcome = self._apply_locked(conn, prefix, decoded, expected, must_be_live,
                                             missing)
        if isinstance(outcome, Applied):
            self._partitions.update((prefix, d) for d in missing)
            self._series.update((prefix, sid) for sid in outcome.series)
        return outcome

    def _apply_locked(self, conn: psycopg.Connection, prefix: str,
                      decoded: list[Decoded],
                      expected: dict[TopicPartition, int | None],
                      must_be_live: bool, new_days: set[date]) -> Applied | Stale:
        if must_be_live:
            row = conn.execute("SELECT prefix FROM projection_live FOR SHARE").fetchone()
            if row is None or row[0] != prefix:
                return Stale(f"live version is {row and row[0]}, not {prefix}")
        tps = sorted({(m.topic, m.partition) for m, _ in decoded})
        stored = dict(((t, p), o) for t, p, o in conn.execute(
            "SELECT topic, partition, next_offset FROM projection_offsets "
            "WHERE projection = %s AND (topic, partition) IN "
            "(SELECT * FROM unnest(%s::text[], %s::int[])) FOR UPDATE",
            (prefix, [t for t, _ in tps], [p for _, p in tps])).fetchall())
        for tp in tps:
            if stored.get(tp) != expected.get(tp, -1):
                return Stale(f"{tp[0]}[{tp[1]}] is at {stored.get(tp)} in the database, "
                             f"the consumer read from {expected.get(tp)}")
        writers.ensure_partitions(conn, prefix, new_days)
        rows = BatchRows()
        edge_keys = sorted({(e.plant_id, e.edge_boot_id) for _, e in decoded
                            if isinstance(e, EdgeEvent)})
        seen = SeqSet(writers.received_seqs(conn, prefix, edge_keys))
        events = 0
        positions: dict[TopicPartition, int] = {}
        for message, event in decoded:
            positions[(message.topic, message.partition)] = message.offset + 1
            if isinstance(event, str):
                rows.rejected.append((message.topic, message.partition, message.offset,
                                      "ContractError", event, message.value or b""))
                continue
            events += 1
            _route(rows, seen, event)
        new_series = [(sid, plant, tag) for (plant, tag), sid in rows.series.items()
                      if (prefix, sid) not in self._series]
        writers.insert_series(conn, prefix, new_series)
        writers.copy_readings(conn, prefix, rows.readings)
        writers.upsert_rollups(conn, prefix, "rollup_1m", rows.rollup_1m)
        writers.upsert_rollups(conn, prefix, "rollup_1h", rows.rollup_1h())
        writers.upsert_latest(conn, prefix, rows)
        writers.record_poll_intervals(conn, prefix, rows)
        writers.upsert_ledger(conn, prefix, rows)
        writers.write_device_status(conn, prefix, rows)
        writers.write_tag_catalogue(conn, prefix, rows)
        writers.write_anomalies_and_lab(conn, prefix, rows)
        write_alerts(conn, prefix, rows)
        writers.write_offsets(conn, prefix, positions)
        return Applied(positions, events, len(rows.readings),
                       frozenset(sid for sid, _, _ in new_series))


def decode_batch(messages: Sequence[RawMessage]) -> list[Decoded]:
    """Each message with its event, or the reason it cannot be projected (no database: may run
    in another thread while the previous batch is written)."""
    return [(m, _decode(m)) for m in messages]


def _decode(message: RawMessage) -> Event | str:
    """The event, or why it cannot be projected."""
    if message.value is None:
        return "message has no value"
    try:
        return decode(message.value)
    except ContractError as exc:
        return str(exc)[:4000] or type(exc).__name__


def _route(rows: BatchRows, seen: SeqSet, event: Event) -> None:
    if isinstance(event, EdgeEvent):
        if seen.add(event.plant_id, event.edge_boot_id, event.seq):
            rows.add_edge(event)
        else:
            rows.add_duplicate(event)
    elif isinstance(event, AnomalyDetected):
        rows.anomalies.append(event)
    elif isinstance(event, _ALERTS):
        rows.alert_events.append(event)
    elif isinstance(event, LabResultRecorded):
        rows.lab_results.append(event)


class SeqSet:
    """Sequence numbers already received per edge boot: stored ranges plus this batch."""

    def __init__(self, ranges: dict[tuple[str, UUID], list[tuple[int, int]]]) -> None:
        self._ranges = ranges
        self._lows = {k: [lo for lo, _ in v] for k, v in ranges.items()}
        self._batch: set[tuple[str, UUID, int]] = set()

    def add(self, plant_id: str, boot: UUID, seq: int) -> bool:
        """Record ``seq``; False when it was received before (a duplicate)."""
        key = (plant_id, boot, seq)
        if key in self._batch:
            return False
        lows = self._lows.get((plant_id, boot))
        if lows:
            i = bisect.bisect_right(lows, seq) - 1
            if i >= 0 and seq < self._ranges[(plant_id, boot)][i][1]:
                return False
        self._batch.add(key)
        return True
