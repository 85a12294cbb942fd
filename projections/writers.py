"""Write one batch's rows into the tables of one projection version, inside the caller's
transaction: readings by binary COPY, everything else by merging upserts."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from uuid import UUID

import psycopg

from projections.errors import ProjectionError
from projections.rows import READING_COLUMNS, BatchRows, ReadingRow, interval_counts
from projections.values import Rollup, clean, json_of
from streams.events import AnomalyDetected

_PREFIX = re.compile(r"^p[0-9]+$")
_READING_TYPES = ("int8", "timestamptz", "float8", "text", "text")


def check_prefix(prefix: str) -> str:
    if not _PREFIX.match(prefix):
        raise ValueError(f"projection version prefix {prefix!r} must look like p1, p2, ...")
    return prefix


def readings_days(rows: list[ReadingRow]) -> set[date]:
    """The UTC days the rows fall in (one partition each)."""
    return {row[1].date() for row in rows}


def ensure_partitions(conn: psycopg.Connection, prefix: str, days: set[date]) -> None:
    for day in sorted(days):
        conn.execute("SELECT create_readings_partition(%s, %s)", (prefix, day))


def copy_readings(conn: psycopg.Connection, prefix: str, rows: list[ReadingRow]) -> None:
    """Binary COPY of reading rows (their day partitions must exist)."""
    cols = ", ".join(READING_COLUMNS)
    with conn.cursor() as cur, cur.copy(
            f"COPY {check_prefix(prefix)}_readings ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(list(_READING_TYPES))
        for row in rows:
            copy.write_row(row)


def copy_encoded_readings(conn: psycopg.Connection, prefix: str, data: bytes) -> None:
    """Binary COPY of reading rows already encoded as a whole COPY stream
    (:func:`projections.prepare.encode_readings`)."""
    cols = ", ".join(READING_COLUMNS)
    with conn.cursor() as cur, cur.copy(
            f"COPY {check_prefix(prefix)}_readings ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(data)


_ROLLUP_UPSERT = """
INSERT INTO {table} AS r (plant_id, tag, bucket, sample_count, bad_count, value_count,
                          value_min, value_max, value_sum, last_time, value_last)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (plant_id, tag, bucket) DO UPDATE SET
    sample_count = r.sample_count + excluded.sample_count,
    bad_count = r.bad_count + excluded.bad_count,
    value_count = r.value_count + excluded.value_count,
    value_min = least(r.value_min, excluded.value_min),
    value_max = greatest(r.value_max, excluded.value_max),
    value_sum = CASE WHEN r.value_sum IS NULL THEN excluded.value_sum
                     WHEN excluded.value_sum IS NULL THEN r.value_sum
                     ELSE r.value_sum + excluded.value_sum END,
    (last_time, value_last) = (
        SELECT CASE WHEN excluded.last_time IS NOT NULL AND (r.last_time IS NULL
                    OR (excluded.last_time, excluded.value_last) > (r.last_time, r.value_last))
               THEN excluded.last_time ELSE r.last_time END,
               CASE WHEN excluded.last_time IS NOT NULL AND (r.last_time IS NULL
                    OR (excluded.last_time, excluded.value_last) > (r.last_time, r.value_last))
               THEN excluded.value_last ELSE r.value_last END)
"""


def upsert_rollups(conn: psycopg.Connection, prefix: str, table: str,
                   rollups: dict[tuple[str, str, datetime], Rollup]) -> None:
    if not rollups:
        return
    sql = _ROLLUP_UPSERT.format(table=f"{check_prefix(prefix)}_{table}")
    with conn.cursor() as cur:
        cur.executemany(sql, [(plant, tag, bucket, *r.row())
                              for (plant, tag, bucket), r in rollups.items()])


def insert_series(conn: psycopg.Connection, prefix: str,
                  series: list[tuple[int, str, str]]) -> None:
    """(series_id, plant_id, tag) rows not known to exist yet. Ids are 64-bit hashes: a
    collision (two series, one id) stops the projector instead of mixing two series."""
    if not series:
        return
    table = f"{check_prefix(prefix)}_series"
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {table} (series_id, plant_id, tag) "
                        "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING", series)
        cur.execute(f"SELECT series_id, plant_id, tag FROM {table} WHERE series_id = ANY(%s)",
                    ([sid for sid, _, _ in series],))
        stored = {sid: (plant, tag) for sid, plant, tag in cur.fetchall()}
    clashes = [(sid, plant, tag, stored.get(sid)) for sid, plant, tag in series
               if stored.get(sid) != (plant, tag)]
    if clashes:
        raise ProjectionError(f"series id collision (id, plant, tag, stored): {clashes[:3]}")


def upsert_latest(conn: psycopg.Connection, prefix: str, rows: BatchRows) -> None:
    p = check_prefix(prefix)
    with conn.cursor() as cur:
        if rows.latest:
            cur.executemany(f"""
INSERT INTO {p}_latest_readings AS l
    (plant_id, tag, time, value, value_text, quality, edge_boot_id, seq)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (plant_id, tag) DO UPDATE SET
    time = excluded.time, value = excluded.value, value_text = excluded.value_text,
    quality = excluded.quality, edge_boot_id = excluded.edge_boot_id, seq = excluded.seq
WHERE (excluded.time, excluded.edge_boot_id, excluded.seq) > (l.time, l.edge_boot_id, l.seq)
""", [(plant, tag, x.time, x.value, x.value_text, x.quality, x.edge_boot_id, x.seq)
      for (plant, tag), x in rows.latest.items()])
        if rows.tag_sources:
            cur.executemany(f"""
INSERT INTO {p}_tag_sources (plant_id, tag, device, poll_group) VALUES (%s, %s, %s, %s)
ON CONFLICT (plant_id, tag) DO UPDATE SET device = excluded.device,
    poll_group = excluded.poll_group
""", [(plant, tag, device, group) for (plant, tag), (device, group) in rows.tag_sources.items()])


def record_poll_intervals(conn: psycopg.Connection, prefix: str, rows: BatchRows) -> None:
    """Count the intervals between consecutive scans of each poll group (in log order),
    continuing from the last scan time stored for the group."""
    if not rows.scan_times:
        return
    p = check_prefix(prefix)
    keys = list(rows.scan_times)
    stored: dict[tuple[str, str, str], datetime] = {}
    with conn.cursor() as cur:
        cur.execute(f"""
SELECT g.plant_id, g.device, g.poll_group, g.last_source_ts
FROM {p}_poll_groups AS g
JOIN unnest(%s::text[], %s::text[], %s::text[]) AS k(plant_id, device, poll_group)
  USING (plant_id, device, poll_group)
""", ([k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]))
        for plant, device, group, last in cur.fetchall():
            stored[(plant, device, group)] = last
        lasts: list[tuple[str, str, str, datetime]] = []
        counts: list[tuple[str, str, str, int, int]] = []
        for key, times in rows.scan_times.items():
            found, last = interval_counts(stored.get(key), times)
            lasts.append((*key, last))
            counts.extend((*key, ms, n) for ms, n in sorted(found.items()))
        cur.executemany(f"""
INSERT INTO {p}_poll_groups (plant_id, device, poll_group, last_source_ts)
VALUES (%s, %s, %s, %s)
ON CONFLICT (plant_id, device, poll_group) DO UPDATE SET last_source_ts = excluded.last_source_ts
""", lasts)
        if counts:
            cur.executemany(f"""
INSERT INTO {p}_poll_interval_counts AS c (plant_id, device, poll_group, interval_ms, n)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (plant_id, device, poll_group, interval_ms) DO UPDATE SET n = c.n + excluded.n
""", counts)


def received_seqs(conn: psycopg.Connection, prefix: str, keys: list[tuple[str, UUID]]
                  ) -> dict[tuple[str, UUID], list[tuple[int, int]]]:
    """The sequence-number ranges ``[lo, hi)`` already received per (plant, edge boot)."""
    if not keys:
        return {}
    p = check_prefix(prefix)
    found: dict[tuple[str, UUID], list[tuple[int, int]]] = {}
    with conn.cursor() as cur:
        cur.execute(f"""
SELECT l.plant_id, l.edge_boot_id, lower(r), upper(r)
FROM {p}_delivery_ledger AS l
JOIN unnest(%s::text[], %s::uuid[]) AS k(plant_id, edge_boot_id) USING (plant_id, edge_boot_id)
CROSS JOIN LATERAL unnest(l.received) AS r
ORDER BY 1, 2, 3
""", ([k[0] for k in keys], [k[1] for k in keys]))
        for plant, boot, lo, hi in cur.fetchall():
            found.setdefault((plant, boot), []).append((lo, hi))
    return found


def upsert_ledger(conn: psycopg.Connection, prefix: str, rows: BatchRows) -> None:
    if not rows.ledger:
        return
    p = check_prefix(prefix)
    params = []
    for (plant, boot), d in rows.ledger.items():
        hb = d.heartbeat
        params.append((plant, boot, d.ranges_literal(), d.delivered, d.first_event_at,
                       d.last_event_at, hb and hb.sent_at, hb and hb.journal_depth,
                       hb and hb.journal_oldest_age_s, hb and hb.dropped_total))
    newer = ("excluded.last_heartbeat_at IS NOT NULL AND (l.last_heartbeat_at IS NULL "
             "OR excluded.last_heartbeat_at > l.last_heartbeat_at)")
    heartbeat_cols = ("last_heartbeat_at", "journal_depth", "journal_oldest_age_s",
                      "dropped_total")
    sets = ",\n    ".join(f"{c} = CASE WHEN {newer} THEN excluded.{c} ELSE l.{c} END"
                          for c in heartbeat_cols)
    with conn.cursor() as cur:
        cur.executemany(f"""
INSERT INTO {p}_delivery_ledger AS l (plant_id, edge_boot_id, received, delivered,
    first_event_at, last_event_at, {", ".join(heartbeat_cols)})
VALUES (%s, %s, %s::int8multirange, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (plant_id, edge_boot_id) DO UPDATE SET
    received = l.received + excluded.received,
    delivered = l.delivered + excluded.delivered,
    first_event_at = least(l.first_event_at, excluded.first_event_at),
    last_event_at = greatest(l.last_event_at, excluded.last_event_at),
    {sets}
""", params)


def write_device_status(conn: psycopg.Connection, prefix: str, rows: BatchRows) -> None:
    if not rows.device_status:
        return
    p = check_prefix(prefix)
    params = [clean((e.plant_id, e.device, e.status.value, e.previous and e.previous.value,
                     e.reason, e.exception_code, e.changed_at, e.edge_boot_id, e.seq))
              for e in rows.device_status]
    cols = ("plant_id, device, status, previous, reason, exception_code, changed_at, "
            "edge_boot_id, seq")
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {p}_device_status_history ({cols}) VALUES "
                        "(%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING", params)
        cur.executemany(f"""
INSERT INTO {p}_device_status AS d ({cols}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (plant_id, device) DO UPDATE SET status = excluded.status,
    previous = excluded.previous, reason = excluded.reason,
    exception_code = excluded.exception_code, changed_at = excluded.changed_at,
    edge_boot_id = excluded.edge_boot_id, seq = excluded.seq
WHERE (excluded.changed_at, excluded.edge_boot_id, excluded.seq)
    > (d.changed_at, d.edge_boot_id, d.seq)
""", params)


def write_tag_catalogue(conn: psycopg.Connection, prefix: str, rows: BatchRows) -> None:
    """Each plant's newest catalogue replaces its older one, in log order."""
    p = check_prefix(prefix)
    with conn.cursor() as cur:
        for event in rows.catalogues:
            key = (event.configured_at, event.edge_boot_id, event.seq)
            newer = cur.execute(
                f"SELECT 1 FROM {p}_tag_catalogue WHERE plant_id = %s "
                "AND (configured_at, edge_boot_id, seq) > (%s, %s, %s) LIMIT 1",
                (event.plant_id, *key)).fetchone()
            if newer is not None:
                continue  # a newer catalogue of this plant is already projected
            cur.execute(f"DELETE FROM {p}_tag_catalogue WHERE plant_id = %s", (event.plant_id,))
            cur.executemany(
                f"INSERT INTO {p}_tag_catalogue (plant_id, tag, device, poll_group, "
                "poll_interval_s, unit, min, max, description, configured_at, edge_boot_id, "
                "seq) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [clean((event.plant_id, t.tag, t.device, t.poll_group, t.poll_interval_s,
                        t.unit, t.min, t.max, t.description, *key)) for t in event.tags])


def _first_model(a: AnomalyDetected) -> tuple[str | None, str | None, str | None]:
    """The model columns of an anomaly row: the first model that voted (the rest are on the
    log, in ``AnomalyDetected.models``)."""
    if not a.models:
        return None, None, None
    m = a.models[0]
    return m.model_id, m.version, m.sha256


def _insert_many(conn: psycopg.Connection, sql: str, params: Sequence[Sequence[object]]) -> None:
    if params:
        with conn.cursor() as cur:
            cur.executemany(sql, params)


def write_anomalies(conn: psycopg.Connection, prefix: str, rows: BatchRows) -> None:
    _insert_many(conn, f"""
INSERT INTO {check_prefix(prefix)}_anomalies (anomaly_id, plant_id, tags, event_time,
    detected_at, score, threshold, model_id, model_version, model_sha256, detectors,
    top_features, retrospective)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s)
ON CONFLICT (anomaly_id) DO NOTHING
""", [clean((a.anomaly_id, a.plant_id, list(a.tags), a.event_time, a.detected_at, a.score,
             a.threshold, *_first_model(a),
             json_of([d.model_dump(mode="json") for d in a.detectors]),
             json_of([f.model_dump(mode="json") for f in a.top_features]), a.retrospective))
      for a in rows.anomalies])


def write_lab_results(conn: psycopg.Connection, prefix: str, rows: BatchRows) -> None:
    _insert_many(conn, f"""
INSERT INTO {check_prefix(prefix)}_lab_results (event_id, plant_id, sample_id, analyte, value,
    unit, sampled_at, recorded_at, recorded_by, digester)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING
""", [clean((r.event_id, r.plant_id, r.sample_id, r.analyte.value, r.value, r.unit,
             r.sampled_at, r.recorded_at, r.recorded_by, r.digester))
      for r in rows.lab_results])


def write_rejected(conn: psycopg.Connection, prefix: str, rows: BatchRows) -> None:
    """Messages the projector could not decode, with their reason (``rejected_messages``)."""
    _insert_many(conn, f"""
INSERT INTO {check_prefix(prefix)}_rejected_messages (topic, partition, "offset", error_type,
    reason, payload)
VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING
""", [clean(r) for r in rows.rejected])


def write_offsets(conn: psycopg.Connection, prefix: str,
                  positions: dict[tuple[str, int], int]) -> None:
    with conn.cursor() as cur:
        cur.executemany("""
INSERT INTO projection_offsets (projection, topic, partition, next_offset, updated_at)
VALUES (%s, %s, %s, %s, now())
ON CONFLICT (projection, topic, partition) DO UPDATE SET next_offset = excluded.next_offset,
    updated_at = now()
""", [(prefix, topic, part, offset) for (topic, part), offset in positions.items()])

