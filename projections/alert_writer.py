"""Alert events into a projection version: the history (once per event id) and the merged
current state of each alert, inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime

import psycopg

from projections.rows import AlertEvent, BatchRows
from projections.values import clean, json_of
from projections.writers import check_prefix
from streams.events import (
    AlertAcknowledged,
    AlertCommented,
    AlertOpened,
    AlertUpdated,
)


def _history(event: AlertEvent) -> tuple[datetime, str | None]:
    if isinstance(event, AlertOpened):
        return event.opened_at, None
    if isinstance(event, AlertUpdated):
        return event.updated_at, None
    if isinstance(event, AlertAcknowledged):
        return event.acknowledged_at, event.acknowledged_by
    if isinstance(event, AlertCommented):
        return event.commented_at, event.author
    return event.cleared_at, None


_ALERT_MERGE = {
    "alert_opened": """
INSERT INTO {p}_alerts AS a (alert_id, plant_id, severity, severity_at, title, tags, anomaly_ids,
    opened_at, retrospective, anomaly_count)
VALUES (%(alert_id)s, %(plant_id)s, %(severity)s, %(opened_at)s, %(title)s, %(tags)s,
    %(anomaly_ids)s, %(opened_at)s, %(retrospective)s, %(anomaly_count)s)
ON CONFLICT (alert_id) DO UPDATE SET
    -- an update applied first (the log's order is per topic, not across) named them later
    title = coalesce(a.title, excluded.title), tags = coalesce(a.tags, excluded.tags),
    anomaly_ids = excluded.anomaly_ids, opened_at = excluded.opened_at,
    retrospective = excluded.retrospective,
    anomaly_count = CASE WHEN a.updated_at IS NULL THEN excluded.anomaly_count
                         ELSE a.anomaly_count END,
    severity = CASE WHEN a.severity_at IS NULL OR excluded.severity_at > a.severity_at
                    THEN excluded.severity ELSE a.severity END,
    severity_at = greatest(a.severity_at, excluded.severity_at)""",
    "alert_updated": """
INSERT INTO {p}_alerts AS a (alert_id, plant_id, severity, severity_at, anomaly_count,
    last_anomaly_at, updated_at, title, tags)
VALUES (%(alert_id)s, %(plant_id)s, %(severity)s, %(updated_at)s, %(anomaly_count)s,
    %(last_anomaly_at)s, %(updated_at)s, %(title)s, %(tags)s)
ON CONFLICT (alert_id) DO UPDATE SET
    -- the incident's tags and cause as the latest update that named them says
    title = CASE WHEN excluded.title IS NOT NULL AND (a.updated_at IS NULL
                      OR excluded.updated_at >= a.updated_at) THEN excluded.title
                 ELSE coalesce(a.title, excluded.title) END,
    tags = CASE WHEN excluded.tags IS NOT NULL AND (a.updated_at IS NULL
                     OR excluded.updated_at >= a.updated_at) THEN excluded.tags
                ELSE coalesce(a.tags, excluded.tags) END,
    severity = CASE WHEN a.severity_at IS NULL OR excluded.severity_at >= a.severity_at
                    THEN excluded.severity ELSE a.severity END,
    severity_at = greatest(a.severity_at, excluded.severity_at),
    (anomaly_count, last_anomaly_at, updated_at) = (
        SELECT CASE WHEN a.updated_at IS NULL OR excluded.updated_at >= a.updated_at
                    THEN excluded.anomaly_count ELSE a.anomaly_count END,
               CASE WHEN a.updated_at IS NULL OR excluded.updated_at >= a.updated_at
                    THEN excluded.last_anomaly_at ELSE a.last_anomaly_at END,
               greatest(a.updated_at, excluded.updated_at))""",
    "alert_acknowledged": """
INSERT INTO {p}_alerts AS a (alert_id, plant_id, acknowledged_by, acknowledged_at)
VALUES (%(alert_id)s, %(plant_id)s, %(acknowledged_by)s, %(acknowledged_at)s)
ON CONFLICT (alert_id) DO UPDATE SET
    (acknowledged_by, acknowledged_at) = (
        SELECT CASE WHEN a.acknowledged_at IS NULL OR (excluded.acknowledged_at,
                    excluded.acknowledged_by) < (a.acknowledged_at, a.acknowledged_by)
               THEN excluded.acknowledged_by ELSE a.acknowledged_by END,
               least(a.acknowledged_at, excluded.acknowledged_at))""",
    "alert_commented": """
INSERT INTO {p}_alerts AS a (alert_id, plant_id, comment_count) VALUES (%(alert_id)s,
    %(plant_id)s, 1)
ON CONFLICT (alert_id) DO UPDATE SET comment_count = a.comment_count + 1""",
    "alert_cleared": """
INSERT INTO {p}_alerts AS a (alert_id, plant_id, cleared_at, clear_reason)
VALUES (%(alert_id)s, %(plant_id)s, %(cleared_at)s, %(reason)s)
ON CONFLICT (alert_id) DO UPDATE SET
    (cleared_at, clear_reason) = (
        SELECT least(a.cleared_at, excluded.cleared_at),
               CASE WHEN a.cleared_at IS NULL OR (excluded.cleared_at, excluded.clear_reason)
                    < (a.cleared_at, a.clear_reason)
               THEN excluded.clear_reason ELSE a.clear_reason END)""",
}


def write_alerts(conn: psycopg.Connection, prefix: str, rows: BatchRows) -> None:
    """Alert history (once per event id) and the merged current state of each alert.

    Every merge is order-independent between the alert topic and the command topic: the
    acknowledgement and the clearing keep the earliest, severity and counts the latest."""
    p = check_prefix(prefix)
    with conn.cursor() as cur:
        for event in rows.alert_events:
            at, actor = _history(event)
            detail = event.model_dump(mode="json", exclude={"event_type", "schema_version",
                                                            "event_id", "alert_id",
                                                            "plant_id"})
            cur.execute(f"""
INSERT INTO {p}_alert_history (event_id, alert_id, plant_id, event_type, at, actor, detail)
VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb) ON CONFLICT (event_id) DO NOTHING
""", clean((event.event_id, event.alert_id, event.plant_id, event.event_type, at, actor,
                      json_of(detail))))
            if cur.rowcount == 0:
                continue
            params = event.model_dump()
            severity = getattr(event, "severity", None)
            params["severity"] = None if severity is None else str(severity)
            if isinstance(event, AlertUpdated):
                params["tags"] = None if event.tags is None else list(event.tags)
            if isinstance(event, AlertOpened):
                params["tags"] = list(event.tags)
                params["anomaly_ids"] = list(event.anomaly_ids)
                params["anomaly_count"] = len(event.anomaly_ids)
            cur.execute(_ALERT_MERGE[event.event_type].format(p=p), clean(params))
