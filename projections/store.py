"""Apply a batch of log messages to one projection version, exactly once.

One database transaction per batch: it locks the stored offsets of the batch's partitions,
checks they are where the caller's consumer started reading, writes every row and moves the
offsets. If the stored offsets are elsewhere (a crash after commit, another consumer, a version
switch) nothing is written and the caller re-seeks to the stored offsets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

import psycopg

from projections import writers
from projections.alert_writer import write_alerts
from projections.batch import (
    Batch,
    Decoded,
    EdgeKey,
    RawMessage,
    SeqSet,
    TopicPartition,
    decode_batch,
    edge_keys,
    route_batch,
)
from projections.db import open_connection, translated
from projections.errors import ProjectionError
from projections.prepare import Prepared, rows_given
from streams.events import ScanRecorded
from streams.settings import DatabaseSettings

__all__ = ["Applied", "Decoded", "ProjectionStore", "RawMessage", "SeqSet", "Stale",
           "TopicPartition", "decode_batch"]
#: Builds a batch's rows once the sequence numbers already received are known.
RowsFor = Callable[[dict[EdgeKey, list[tuple[int, int]]]], Batch]


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
        tps = sorted({(m.topic, m.partition) for m, _ in decoded})
        return self._transaction(prefix, tps, expected, days, edge_keys(decoded),
                                 lambda received: route_batch(decoded, SeqSet(received)),
                                 must_be_live=must_be_live)

    def apply_prepared(self, prefix: str, prepared: Prepared, messages: Sequence[RawMessage],
                       expected: dict[TopicPartition, int | None], *,
                       synchronous_commit: bool = True) -> Applied | Stale:
        """:meth:`apply` for a batch prepared by :func:`projections.prepare.prepare` (in another
        process, assuming none of its edge events was received before). If the database has
        received one of them, ``messages`` are decoded and routed here instead, exactly as
        :meth:`apply` would. Not for the live version (no live check).

        ``synchronous_commit=False`` lets the commit return before its WAL is flushed: for a
        version that is rebuilt from scratch anyway if the server crashes meanwhile."""
        return self._transaction(prefix, sorted(prepared.batch.positions), expected,
                                 prepared.days, prepared.edge_keys,
                                 lambda received: rows_given(prepared, messages, received),
                                 must_be_live=False, synchronous_commit=synchronous_commit)

    def _transaction(self, prefix: str, tps: list[TopicPartition],
                     expected: dict[TopicPartition, int | None], days: set[date],
                     keys: list[EdgeKey], rows_for: RowsFor, *, must_be_live: bool,
                     synchronous_commit: bool = True) -> Applied | Stale:
        missing = {d for d in days if (prefix, d) not in self._partitions}
        with translated():
            conn = self.connection()
            with conn.transaction():
                if not synchronous_commit:
                    conn.execute("SET LOCAL synchronous_commit = off")
                stale = self._check(conn, prefix, tps, expected, must_be_live)
                if stale is not None:
                    return stale
                writers.ensure_partitions(conn, prefix, missing)
                batch = rows_for(writers.received_seqs(conn, prefix, keys))
                outcome = self._write(conn, prefix, batch)
        self._partitions.update((prefix, d) for d in missing)
        self._series.update((prefix, sid) for sid in outcome.series)
        return outcome

    def _check(self, conn: psycopg.Connection, prefix: str, tps: list[TopicPartition],
               expected: dict[TopicPartition, int | None], must_be_live: bool) -> Stale | None:
        """Lock the batch's stored offsets; Stale unless they are where the consumer read."""
        if must_be_live:
            row = conn.execute("SELECT prefix FROM projection_live FOR SHARE").fetchone()
            if row is None or row[0] != prefix:
                return Stale(f"live version is {row and row[0]}, not {prefix}")
        stored = dict(((t, p), o) for t, p, o in conn.execute(
            "SELECT topic, partition, next_offset FROM projection_offsets "
            "WHERE projection = %s AND (topic, partition) IN "
            "(SELECT * FROM unnest(%s::text[], %s::int[])) FOR UPDATE",
            (prefix, [t for t, _ in tps], [p for _, p in tps])).fetchall())
        for tp in tps:
            if stored.get(tp) != expected.get(tp, -1):
                return Stale(f"{tp[0]}[{tp[1]}] is at {stored.get(tp)} in the database, "
                             f"the consumer read from {expected.get(tp)}")
        return None

    def _write(self, conn: psycopg.Connection, prefix: str, batch: Batch) -> Applied:
        rows = batch.rows
        new_series = [(sid, plant, tag) for (plant, tag), sid in rows.series.items()
                      if (prefix, sid) not in self._series]
        writers.insert_series(conn, prefix, new_series)
        if batch.readings_copy is None:
            writers.copy_readings(conn, prefix, rows.readings)
        else:
            writers.copy_encoded_readings(conn, prefix, batch.readings_copy)
        writers.upsert_rollups(conn, prefix, "rollup_1m", rows.rollup_1m)
        writers.upsert_rollups(conn, prefix, "rollup_1h", rows.rollup_1h())
        writers.upsert_latest(conn, prefix, rows)
        writers.record_poll_intervals(conn, prefix, rows)
        writers.upsert_ledger(conn, prefix, rows)
        writers.write_device_status(conn, prefix, rows)
        writers.write_tag_catalogue(conn, prefix, rows)
        writers.write_anomalies(conn, prefix, rows)
        writers.write_lab_results(conn, prefix, rows)
        writers.write_rejected(conn, prefix, rows)
        write_alerts(conn, prefix, rows)
        writers.write_offsets(conn, prefix, batch.positions)
        return Applied(batch.positions, batch.events, batch.readings,
                       frozenset(sid for sid, _, _ in new_series))
