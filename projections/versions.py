"""Projection versions: create one beside the live one, swap the query views to it in one
transaction, compare two versions, drop a retired one (see ``0002_projection_versions.sql``)."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import psycopg

from projections.db import translated
from projections.errors import LockTimeoutError, ProjectionError
from projections.writers import check_prefix

#: The tables of a version, compared after a rebuild (name, key columns for a stable order).
VERSION_TABLES = ("series", "readings", "rollup_1m", "rollup_1h", "latest_readings", "tag_sources",
                  "poll_groups", "poll_interval_counts", "delivery_ledger", "device_status",
                  "device_status_history", "anomalies", "alerts", "alert_history",
                  "lab_results", "rejected_messages", "tag_catalogue")
#: Readings are compared row by row only up to this many rows (by count beyond).
ROW_COMPARE_LIMIT = 5_000_000


@dataclass(frozen=True)
class TableComparison:
    table: str
    old_rows: int
    new_rows: int
    differing_rows: int | None  # None: not compared row by row

    @property
    def same(self) -> bool:
        counts_equal = self.old_rows == self.new_rows
        return counts_equal and (self.differing_rows in (None, 0))


def create_version(conn: psycopg.Connection) -> str:
    """A new, empty version (``p<n+1>``) in state 'building'; unfinished builds are dropped."""
    with translated(), conn.transaction():
        conn.execute("LOCK TABLE projection_versions IN EXCLUSIVE MODE")
        for (stale,) in conn.execute("SELECT prefix FROM projection_versions "
                                     "WHERE state = 'building'").fetchall():
            conn.execute("SELECT drop_projection_version(%s)", (stale,))
        row = conn.execute("SELECT coalesce(max(substr(prefix, 2)::int), 0) + 1 "
                           "FROM projection_versions").fetchone()
        assert row is not None
        prefix = f"p{row[0]}"
        conn.execute("SELECT create_projection_version(%s)", (prefix,))
        conn.execute("SELECT create_tag_catalogue(%s)", (prefix,))
        conn.execute("INSERT INTO projection_versions (prefix, state) VALUES (%s, 'building')",
                     (prefix,))
    return prefix


def live_version(conn: psycopg.Connection) -> str:
    with translated():
        row = conn.execute("SELECT prefix FROM projection_live").fetchone()
    if row is None:
        raise ProjectionError("projection_live is empty: run `biogas projections migrate`")
    return str(row[0])


def swap_to(conn: psycopg.Connection, prefix: str, *, patience_s: float = 120.0) -> str:
    """Point every query view and the live projector at ``prefix``, in one transaction;
    returns the version that was live.

    Running queries finish on the old version; queries arriving meanwhile wait for the commit
    and then read the new one. A query holding one view while waiting for another that the
    swap already re-pointed would deadlock with it: the swap takes the view locks with a lock
    timeout shorter than the server's deadlock timeout, so it is the swap that backs off (and
    tries again), never the query that fails.
    """
    check_prefix(prefix)
    with translated():
        row = conn.execute("SELECT setting::int FROM pg_settings "
                           "WHERE name = 'deadlock_timeout'").fetchone()
    view_lock_ms = max(10, min(200, (row[0] if row else 1000) // 2))
    deadline = time.monotonic() + patience_s
    while True:
        try:
            return _swap_once(conn, prefix, view_lock_ms)
        except LockTimeoutError:
            if time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.01, 0.1))  # noqa: S311 - back-off jitter


def _swap_once(conn: psycopg.Connection, prefix: str, view_lock_ms: int) -> str:
    with translated(), conn.transaction():
        # First wait for the live projector's batch in flight (it holds this row FOR SHARE
        # and touches no view), then take the views with the short lock timeout.
        conn.execute("SET LOCAL lock_timeout = '60s'")
        row = conn.execute("SELECT prefix FROM projection_live FOR UPDATE").fetchone()
        assert row is not None
        old = str(row[0])
        conn.execute(f"SET LOCAL lock_timeout = '{view_lock_ms}ms'")
        conn.execute("SELECT point_views_at(%s)", (prefix,))
        conn.execute("SELECT point_tag_catalogue_at(%s)", (prefix,))
        conn.execute("UPDATE projection_live SET prefix = %s", (prefix,))
        conn.execute("UPDATE projection_versions SET state = 'retired' WHERE prefix = %s",
                     (old,))
        conn.execute("UPDATE projection_versions SET state = 'live', live_since = now() "
                     "WHERE prefix = %s", (prefix,))
    return old


def drop_version(conn: psycopg.Connection, prefix: str) -> None:
    check_prefix(prefix)
    with translated(), conn.transaction():
        conn.execute("SELECT drop_projection_version(%s)", (prefix,))


def offsets_of(conn: psycopg.Connection, prefix: str) -> dict[tuple[str, int], int]:
    with translated():
        rows = conn.execute("SELECT topic, partition, next_offset FROM projection_offsets "
                            "WHERE projection = %s", (prefix,)).fetchall()
    return {(t, p): o for t, p, o in rows}


def compare_versions(conn: psycopg.Connection, old: str, new: str
                     ) -> tuple[bool, list[TableComparison]]:
    """Whether both versions consumed the same offsets, and the row counts of every table in
    both; when the offsets are equal, also how many rows differ (symmetric difference,
    duplicates counted). One repeatable-read snapshot."""
    check_prefix(old)
    check_prefix(new)
    found: list[TableComparison] = []
    with translated(), conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        same_offsets = offsets_of(conn, old) == offsets_of(conn, new)
        for table in VERSION_TABLES:
            row = conn.execute(f"SELECT (SELECT count(*) FROM {old}_{table}), "
                               f"(SELECT count(*) FROM {new}_{table})").fetchone()
            assert row is not None
            differing: int | None = None
            if same_offsets and max(row) <= ROW_COMPARE_LIMIT:
                diff = conn.execute(
                    f"SELECT (SELECT count(*) FROM (TABLE {old}_{table} EXCEPT ALL "
                    f"TABLE {new}_{table}) a) + (SELECT count(*) FROM (TABLE {new}_{table} "
                    f"EXCEPT ALL TABLE {old}_{table}) b)").fetchone()
                assert diff is not None
                differing = int(diff[0])
            found.append(TableComparison(table, int(row[0]), int(row[1]), differing))
    return same_offsets, found
