"""The TimescaleDB layer of the projections on a real TimescaleDB (PGlite's WebAssembly build,
served on loopback by stack/timescale_wasm.py): the migrations turn readings into a hypertable
with compression, a daily continuous aggregate and policies; versions are created, swapped,
compared and dropped through the same functions the rebuild uses.

The server takes one connection at a time and has no COPY FROM STDIN, so rows are written with
INSERT and every step closes its connection before the next opens one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from projections.db import open_connection
from projections.migrate import apply_migrations, load_migrations
from projections.versions import compare_versions, create_version, drop_version, swap_to
from stack import timescale_wasm
from stack.settings import StackSettings
from streams.settings import DatabaseSettings

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def timescale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("timescale") / "server.log"
    server = timescale_wasm.start(StackSettings().cache_dir, log)
    try:
        yield server.dsn
    finally:
        timescale_wasm.stop(server)


@pytest.fixture
def ts_db(timescale: str, unique: str) -> DatabaseSettings:
    settings = DatabaseSettings(url=timescale, schema_name=f"ts_{unique}")
    apply_migrations(settings)
    return settings


def _conn(settings: DatabaseSettings) -> psycopg.Connection:
    conn = open_connection(settings)
    # The server is one session for all connections: named prepared statements would outlive
    # the connection that made them and collide with the next one's.
    conn.prepare_threshold = None
    return conn


Reading = tuple[int, datetime, float, str]


def _insert_readings(conn: psycopg.Connection, prefix: str, rows: list[Reading]) -> None:
    with conn.transaction():
        for series_id in sorted({r[0] for r in rows}):
            conn.execute(f"INSERT INTO {prefix}_series VALUES (%s, 'plant-a', %s) "
                         "ON CONFLICT DO NOTHING", (series_id, f"tag{series_id}"))
        for day in sorted({r[1].date() for r in rows}):
            conn.execute("SELECT create_readings_partition(%s, %s)", (prefix, day))
        conn.cursor().executemany(
            f"INSERT INTO {prefix}_readings (series_id, time, value, quality) "
            "VALUES (%s, %s, %s, %s)", rows)


def _readings(days: int) -> list[Reading]:
    out: list[Reading] = []
    for minute in range(0, days * 24 * 60, 30):
        t = T0 + timedelta(minutes=minute)
        out.append((1, t, float(minute % 97), "good"))
        out.append((2, t, -float(minute % 13), "good" if minute % 90 else "stale"))
    return out


def _daily_from_raw(conn: psycopg.Connection) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT plant_id, tag, date_bin('1 day', time, 'epoch') AS bucket, count(*), "
        "count(*) FILTER (WHERE quality <> 'good'), count(value), min(value), max(value), "
        "round(avg(value)::numeric, 9) FROM readings GROUP BY 1, 2, 3 ORDER BY 1, 2, 3").fetchall()


def _daily_from_cagg(conn: psycopg.Connection) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT plant_id, tag, bucket, sample_count, bad_count, value_count, value_min, "
        "value_max, round(value_avg::numeric, 9) FROM rollup_1d ORDER BY 1, 2, 3").fetchall()


def test_the_layer_is_shipped_and_applied_once(ts_db: DatabaseSettings) -> None:
    layer = [m.ident for m in load_migrations() if m.timescale]
    assert layer, "no TimescaleDB migration is shipped"
    assert apply_migrations(ts_db) == []
    with _conn(ts_db) as conn:
        applied = {r[0] for r in conn.execute("SELECT ident FROM schema_migrations")}
        assert set(layer) <= applied
        hypertables = conn.execute(
            "SELECT hypertable_name, compression_enabled FROM timescaledb_information.hypertables "
            "WHERE hypertable_schema = %s", (ts_db.schema_name,)).fetchall()
        assert hypertables == [("p1_readings", True)]
        segment = conn.execute(
            "SELECT attname FROM timescaledb_information.compression_settings "
            "WHERE hypertable_schema = %s AND segmentby_column_index IS NOT NULL",
            (ts_db.schema_name,)).fetchall()
        assert segment == [("series_id",)]
        jobs: dict[str, str] = dict(conn.execute(
            "SELECT proc_name, config->>'compress_after' FROM timescaledb_information.jobs "
            "WHERE hypertable_schema = %s AND hypertable_name = 'p1_readings'",
            (ts_db.schema_name,)).fetchall())
        assert jobs == {"policy_compression": "7 days"}  # no retention: the log keeps all
        refresh = conn.execute(
            "SELECT count(*) FROM timescaledb_information.continuous_aggregates "
            "WHERE view_schema = %s AND view_name = 'p1_rollup_1d' AND NOT materialized_only",
            (ts_db.schema_name,)).fetchone()
        assert refresh == (1,)


def test_readings_go_to_chunks_and_the_daily_aggregate_matches_the_raw_rows(
        ts_db: DatabaseSettings) -> None:
    rows = _readings(days=3)
    with _conn(ts_db) as conn:
        _insert_readings(conn, "p1", rows)
        # no day partitions were made: create_readings_partition left the hypertable alone
        assert conn.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'p1_readings_d%' "
                            "AND relnamespace = current_schema()::regnamespace").fetchone() == (0,)
        chunks = conn.execute("SELECT count(*) FROM timescaledb_information.chunks WHERE "
                              "hypertable_schema = %s AND hypertable_name = 'p1_readings'",
                              (ts_db.schema_name,)).fetchone()
        assert chunks == (3,)
        assert conn.execute("SELECT count(*) FROM readings").fetchone() == (len(rows),)
        raw = _daily_from_raw(conn)
        assert len(raw) == 6
        assert _daily_from_cagg(conn) == raw  # real-time, before any refresh
        conn.execute("CALL public.refresh_continuous_aggregate('p1_rollup_1d', NULL, NULL)")
        assert _daily_from_cagg(conn) == raw

        # compress every chunk, then backfill a late reading into a compressed day
        conn.execute("SELECT public.compress_chunk(c) FROM public.show_chunks('p1_readings') c")
        compressed = conn.execute(
            "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_schema = %s "
            "AND hypertable_name = 'p1_readings' AND is_compressed", (ts_db.schema_name,)
        ).fetchone()
        assert compressed == (3,)
        late = (1, T0 + timedelta(hours=5, seconds=7), 1000.0, "good")
        _insert_readings(conn, "p1", [late])
        assert conn.execute("SELECT count(*) FROM readings").fetchone() == (len(rows) + 1,)
        conn.execute("CALL public.refresh_continuous_aggregate('p1_rollup_1d', NULL, NULL)")
        after = _daily_from_cagg(conn)
        assert after == _daily_from_raw(conn)
        assert after != raw
        assert after[0][7] == 1000.0  # the late reading is the first day's max now


def test_a_retention_setting_is_applied_as_a_policy(ts_db: DatabaseSettings) -> None:
    with _conn(ts_db) as conn:
        conn.execute("UPDATE timescale_policies SET readings_retention = interval '400 days', "
                     "compress_after = interval '2 days'")
        conn.execute("SELECT timescale_apply_policies(prefix) FROM projection_live")
        jobs: dict[str, str] = dict(conn.execute(
            "SELECT proc_name, coalesce(config->>'drop_after', config->>'compress_after') "
            "FROM timescaledb_information.jobs WHERE hypertable_schema = %s "
            "AND hypertable_name = 'p1_readings'", (ts_db.schema_name,)).fetchall())
        assert jobs == {"policy_compression": "2 days", "policy_retention": "400 days"}
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE timescale_policies SET readings_retention = interval '1 hour'")


def test_a_new_version_is_a_hypertable_and_swaps_and_drops_like_a_plain_one(
        ts_db: DatabaseSettings) -> None:
    rows = _readings(days=2)
    with _conn(ts_db) as conn:
        _insert_readings(conn, "p1", rows)
        new = create_version(conn)
        assert new == "p2"
        _insert_readings(conn, new, rows)
        conn.execute("INSERT INTO projection_offsets (projection, topic, partition, next_offset)"
                     " SELECT 'p2', topic, partition, next_offset FROM projection_offsets "
                     "WHERE projection = 'p1'")
        same_offsets, tables = compare_versions(conn, "p1", new)
        assert same_offsets
        assert all(t.same for t in tables), [t for t in tables if not t.same]
        before = _daily_from_cagg(conn)
        assert swap_to(conn, new) == "p1"
        assert conn.execute("SELECT prefix FROM projection_live").fetchone() == ("p2",)
        # the query views, the daily aggregate's among them, now read p2
        viewdef = conn.execute("SELECT pg_get_viewdef('rollup_1d'::regclass)").fetchone()
        assert viewdef is not None and "p2_rollup_1d_v" in viewdef[0]
        assert _daily_from_cagg(conn) == before
        drop_version(conn, "p1")
        left = conn.execute("SELECT relname FROM pg_class WHERE relname LIKE 'p1\\_%' "
                            "AND relnamespace = current_schema()::regnamespace").fetchall()
        assert left == []
        jobs = conn.execute("SELECT hypertable_name FROM timescaledb_information.jobs "
                            "WHERE hypertable_schema = %s ORDER BY 1", (ts_db.schema_name,)
                            ).fetchall()
        assert jobs == [("p2_readings",), ("p2_rollup_1d",)]


def test_a_version_that_already_holds_readings_stays_partitioned(
        ts_db: DatabaseSettings) -> None:
    # As on a database that had projections before the extension was installed.
    with _conn(ts_db) as conn:
        conn.execute("SELECT create_projection_version_plain('p7')")
        _insert_readings(conn, "p7", [(1, T0, 1.0, "good")])
        conn.execute("SELECT timescale_version_layer('p7')")
        assert conn.execute("SELECT timescale_is_hypertable('p7')").fetchone() == (False,)
        assert conn.execute("SELECT count(*) FROM p7_readings_v").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM pg_class WHERE relname = 'p7_readings_d20260301'"
                            " AND relnamespace = current_schema()::regnamespace"
                            ).fetchone() == (1,)


def test_plain_postgresql_skips_the_layer(database: DatabaseSettings) -> None:
    with psycopg.connect(database.url) as conn:
        applied = {r[0] for r in conn.execute(
            f'SELECT ident FROM "{database.schema_name}".schema_migrations')}
        kinds = conn.execute(
            "SELECT relkind FROM pg_class WHERE relname = 'p1_readings' "
            "AND relnamespace = %s::regnamespace", (database.schema_name,)).fetchall()
    assert not any(ident.endswith(".timescale") for ident in applied)
    assert kinds == [("p",)]  # day-partitioned
