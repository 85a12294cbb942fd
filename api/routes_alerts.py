"""Anomalies and alerts, filtered and paginated by cursor (newest first)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from api.auth import check_plant, granted_plants, require
from api.deps import Db
from api.errors import ApiProblemError, problem_responses
from api.params import (
    Cursor,
    Limit,
    PlantFilter,
    TagsQuery,
    check_plants,
    check_tags,
    decode_cursor,
    encode_cursor,
    utc,
)
from api.permissions import Permission
from api.schemas_alerts import (
    Alert,
    AlertDetail,
    AlertHistoryEntry,
    AlertPage,
    AlertState,
    Anomaly,
    AnomalyPage,
)
from api.tokens import Principal
from streams.events import Severity

router = APIRouter(tags=["alerts"], responses=problem_responses())
AlertReader = Annotated[Principal, Depends(require(Permission.READ_ALERTS))]
Since = Annotated[datetime | None, Query(description="Only from this time on (inclusive).")]
Until = Annotated[datetime | None, Query(description="Only before this time.")]

_ALERT_COLUMNS = ("alert_id, plant_id, severity, title, tags, anomaly_ids, opened_at, "
                  "retrospective, anomaly_count, last_anomaly_at, updated_at, acknowledged_by, "
                  "acknowledged_at, comment_count, cleared_at, clear_reason, state")


def _keyset(cursor: str | None) -> tuple[datetime, UUID] | None:
    values = decode_cursor(cursor, 2)
    if values is None:
        return None
    try:
        return utc(datetime.fromisoformat(str(values[0]))), UUID(str(values[1]))
    except ValueError as exc:
        raise ApiProblemError(422, "Invalid cursor",
                              "pass the 'next_cursor' of a previous page unchanged") from exc


def _scope(principal: Principal, plant: list[str] | None) -> dict[str, Any]:
    plants = granted_plants(principal, check_plants(plant))
    return {"all_plants": plants is None, "plants": plants or []}


@router.get("/anomalies", response_model=AnomalyPage)
async def anomalies(principal: AlertReader, db: Db, plant: PlantFilter = None,
                    tag: TagsQuery = None, since: Since = None, until: Until = None,
                    retrospective: bool | None = None, limit: Limit = 100,
                    cursor: Cursor = None) -> AnomalyPage:
    """Anomalies of the granted plants by event time, newest first; ``tag`` keeps those
    involving any of the tags."""
    params = _scope(principal, plant) | {
        "tags": check_tags(tag) or [], "since": since and utc(since),
        "until": until and utc(until), "retro": retrospective, "limit": limit + 1}
    key = _keyset(cursor)
    params |= {"kt": key and key[0], "kid": key and key[1]}
    rows = await db.fetch_all(
        "SELECT anomaly_id, plant_id, tags, event_time, detected_at, score, threshold, model_id,"
        " model_version, model_sha256, detectors, top_features, retrospective FROM anomalies "
        "WHERE (%(all_plants)s OR plant_id = ANY(%(plants)s)) "
        "AND (cardinality(%(tags)s::text[]) = 0 OR tags && %(tags)s::text[]) "
        "AND (%(since)s::timestamptz IS NULL OR event_time >= %(since)s) "
        "AND (%(until)s::timestamptz IS NULL OR event_time < %(until)s) "
        "AND (%(retro)s::boolean IS NULL OR retrospective = %(retro)s) "
        "AND (%(kt)s::timestamptz IS NULL OR (event_time, anomaly_id) < (%(kt)s, %(kid)s::uuid)) "
        "ORDER BY event_time DESC, anomaly_id DESC LIMIT %(limit)s", params)
    items = [Anomaly.model_validate(row) for row in rows[:limit]]
    more = len(rows) > limit
    return AnomalyPage(items=items, next_cursor=encode_cursor(
        [items[-1].event_time.isoformat(), str(items[-1].anomaly_id)]) if more else None)


@router.get("/alerts", response_model=AlertPage)
async def alerts(principal: AlertReader, db: Db, plant: PlantFilter = None,
                 state: Annotated[list[AlertState] | None, Query()] = None,
                 severity: Annotated[list[Severity] | None, Query()] = None,
                 since: Since = None, until: Until = None, limit: Limit = 100,
                 cursor: Cursor = None) -> AlertPage:
    """Alerts of the granted plants by opening time, newest first, filtered by state and
    severity (each repeatable)."""
    params = _scope(principal, plant) | {
        "states": list(state or []), "severities": [s.value for s in severity or []],
        "since": since and utc(since), "until": until and utc(until), "limit": limit + 1}
    key = _keyset(cursor)
    params |= {"kt": key and key[0], "kid": key and key[1]}
    rows = await db.fetch_all(
        f"SELECT {_ALERT_COLUMNS} FROM alerts "
        "WHERE opened_at IS NOT NULL AND (%(all_plants)s OR plant_id = ANY(%(plants)s)) "
        "AND (cardinality(%(states)s::text[]) = 0 OR state = ANY(%(states)s::text[])) "
        "AND (cardinality(%(severities)s::text[]) = 0 OR severity = ANY(%(severities)s::text[]))"
        " AND (%(since)s::timestamptz IS NULL OR opened_at >= %(since)s) "
        "AND (%(until)s::timestamptz IS NULL OR opened_at < %(until)s) "
        "AND (%(kt)s::timestamptz IS NULL OR (opened_at, alert_id) < (%(kt)s, %(kid)s::uuid)) "
        "ORDER BY opened_at DESC, alert_id DESC LIMIT %(limit)s", params)
    items = [Alert.model_validate(row) for row in rows[:limit]]
    more = len(rows) > limit
    last = items[-1] if items else None
    return AlertPage(items=items, next_cursor=encode_cursor(
        [last.opened_at.isoformat(), str(last.alert_id)])
        if more and last and last.opened_at else None)


async def find_alert(db: Db, principal: Principal, alert_id: UUID) -> Alert:
    """The alert, 404 when unknown or when the token is not granted its plant (so that a token
    cannot probe other plants' alert ids)."""
    row = await db.fetch_one(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE alert_id = %s",
                             (alert_id,))
    if row is None or not principal.may_see(row["plant_id"]):
        raise ApiProblemError(404, "Not found", f"no alert {alert_id} in the granted plants")
    return Alert.model_validate(row)


@router.get("/alerts/{alert_id}", response_model=AlertDetail,
            responses=problem_responses(404))
async def alert(alert_id: UUID, principal: AlertReader, db: Db) -> AlertDetail:
    """One alert with its history (opened, updates, acknowledgement, comments, clearing)."""
    found = await find_alert(db, principal, alert_id)
    check_plant(principal, found.plant_id)
    rows = await db.fetch_all(
        "SELECT event_id, event_type, at, actor, detail FROM alert_history "
        "WHERE alert_id = %s ORDER BY at, event_id", (alert_id,))
    return AlertDetail(**found.model_dump(),
                       history=[AlertHistoryEntry.model_validate(r) for r in rows])
