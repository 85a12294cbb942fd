"""Process data: plants, tags, readings (bucketed, CSV), latest values, devices, completeness."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api.auth import check_plant, granted_plants, require
from api.deps import Db
from api.errors import ApiProblemError, problem_responses
from api.params import MAX_TAGS, End, PlantPath, Start, TagsQuery, check_tags, time_range
from api.permissions import Permission
from api.readings_query import bucketed, plan
from api.schemas_process import (
    CompletenessHour,
    Devices,
    DeviceState,
    EdgeLink,
    LabResult,
    LatestValue,
    PlantSummary,
    Readings,
    TagInfo,
)
from api.tokens import Principal
from streams.events import Analyte

router = APIRouter(tags=["process"], responses=problem_responses())
Reader = Annotated[Principal, Depends(require(Permission.READ_PROCESS))]
Exporter = Annotated[Principal, Depends(require(Permission.EXPORT_CSV))]
MaxPoints = Annotated[int, Query(ge=1, le=10_000, description="Most buckets per tag.")]

_PLANTS = """
WITH plants AS (
    SELECT plant_id FROM latest_readings UNION SELECT plant_id FROM device_status
    UNION SELECT plant_id FROM alerts)
SELECT p.plant_id,
       (SELECT count(*) FROM latest_readings l WHERE l.plant_id = p.plant_id) AS tag_count,
       (SELECT max(time) FROM latest_readings l WHERE l.plant_id = p.plant_id) AS last_reading_at,
       (SELECT count(*) FROM alerts a WHERE a.plant_id = p.plant_id AND a.state = 'open')
           AS open_alerts
FROM plants p WHERE %(all)s OR p.plant_id = ANY(%(plants)s) ORDER BY p.plant_id
"""
_TAGS = """
SELECT coalesce(c.tag, s.tag) AS tag, coalesce(s.device, c.device) AS device,
       coalesce(s.poll_group, c.poll_group) AS poll_group, c.unit, c.min, c.max,
       c.poll_interval_s, c.description
FROM (SELECT * FROM tag_catalogue WHERE plant_id = %(plant)s) AS c
FULL JOIN (SELECT * FROM tag_sources WHERE plant_id = %(plant)s) AS s ON s.tag = c.tag
ORDER BY 1
"""


@router.get("/plants", response_model=list[PlantSummary])
async def plants(principal: Reader, db: Db) -> list[PlantSummary]:
    """The plants this token may see that have data, with their tag and open-alert counts."""
    granted = granted_plants(principal, None)
    rows = await db.fetch_all(_PLANTS, {"all": granted is None, "plants": granted or []})
    return [PlantSummary.model_validate(row) for row in rows]


@router.get("/plants/{plant}/tags", response_model=list[TagInfo])
async def tags(plant: PlantPath, principal: Reader, db: Db) -> list[TagInfo]:
    """Every tag of the plant: device and poll group, unit, expected range, poll interval."""
    check_plant(principal, plant)
    rows = await db.fetch_all(_TAGS, {"plant": plant})
    return [TagInfo.model_validate(row) for row in rows]


async def _readings(db: Db, plant: str, tag: list[str] | None, start: Start, end: End,
                    max_points: int) -> dict[str, Any]:
    wanted = check_tags(tag)
    if not wanted:  # every tag of the plant, as the parameter says, within the same limit
        wanted = [str(row["tag"]) for row in await db.fetch_all(_TAGS, {"plant": plant})]
        if len(wanted) > MAX_TAGS:
            raise ApiProblemError(
                422, "Invalid request", f"plant {plant!r} has {len(wanted)} tags, more than "
                f"the {MAX_TAGS} one query may read: name them with ?tag=... (repeatable)")
    span = time_range(start, end)
    bucket = plan(span, max_points)
    series = await bucketed(db, plant, wanted, span, bucket) if wanted else {}
    return {"plant_id": plant, "start": span.start, "end": span.end,
            "bucket_s": bucket.width_s, "source": bucket.source,
            "series": series}


@router.get("/plants/{plant}/readings", response_model=Readings)
async def readings(plant: PlantPath, principal: Reader, db: Db, tag: TagsQuery = None,
                   start: Start = None, end: End = None, max_points: MaxPoints = 1000) -> Response:
    """Readings of some tags over [start, end), bucketed to at most ``max_points`` per tag
    (min/max/avg/last per bucket; from the 1-minute or 1-hour rollups for long ranges)."""
    check_plant(principal, plant)
    body = await _readings(db, plant, tag, start, end, max_points)
    body["series"] = [{"tag": t, "points": points} for t, points in body["series"].items()]
    return Response(orjson.dumps(body, option=orjson.OPT_UTC_Z),
                    media_type="application/json")


@router.get("/plants/{plant}/readings.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}},
                             "description": "tag,time,min,max,avg,last,count,bad"}})
async def readings_csv(plant: PlantPath, principal: Exporter, db: Db, tag: TagsQuery = None,
                       start: Start = None, end: End = None,
                       max_points: MaxPoints = 1000) -> Response:
    """The same query as ``/readings`` as CSV, one row per tag and bucket."""
    check_plant(principal, plant)
    result = await _readings(db, plant, tag, start, end, max_points)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["tag", "time", "min", "max", "avg", "last", "count", "bad"])
    for tag_name, points in result["series"].items():
        for p in points:
            writer.writerow([tag_name, p["t"].isoformat(), p["min"], p["max"], p["avg"],
                             p["last"], p["count"], p["bad"]])
    name = f"{plant}_{result['start']:%Y%m%dT%H%M%S}_{result['end']:%Y%m%dT%H%M%S}.csv"
    return Response(out.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/plants/{plant}/latest", response_model=list[LatestValue])
async def latest(plant: PlantPath, principal: Reader, db: Db,
                 tag: TagsQuery = None) -> list[LatestValue]:
    """The latest value of every tag of the plant (or of the named tags)."""
    check_plant(principal, plant)
    wanted = check_tags(tag)
    rows = await db.fetch_all(
        "SELECT tag, time, value, value_text, quality FROM latest_readings "
        "WHERE plant_id = %(plant)s AND (%(all)s OR tag = ANY(%(tags)s)) ORDER BY tag",
        {"plant": plant, "all": wanted is None, "tags": wanted or []})
    return [LatestValue.model_validate(row) for row in rows]


@router.get("/plants/{plant}/devices", response_model=Devices)
async def devices(plant: PlantPath, principal: Reader, db: Db) -> Devices:
    """Link status of every device, and of the plant's edge producer (heartbeats, backlog,
    sequence gaps)."""
    check_plant(principal, plant)
    states = await db.fetch_all(
        "SELECT device, status, previous, reason, exception_code, changed_at FROM device_status "
        "WHERE plant_id = %s ORDER BY device", (plant,))
    edges = await db.fetch_all(
        "SELECT edge_boot_id::text, last_event_at, last_heartbeat_at, journal_depth, "
        "journal_oldest_age_s, missing_count, duplicate_count FROM delivery_ledger "
        "WHERE plant_id = %s ORDER BY last_event_at DESC LIMIT 5", (plant,))
    return Devices(plant_id=plant, devices=[DeviceState.model_validate(r) for r in states],
                   edge=[EdgeLink.model_validate(r) for r in edges])


@router.get("/plants/{plant}/completeness", response_model=list[CompletenessHour])
async def completeness(plant: PlantPath, principal: Reader, db: Db, tag: TagsQuery = None,
                       start: Start = None, end: End = None) -> list[CompletenessHour]:
    """Hourly data completeness per tag: samples received against those expected from the
    poll group's median interval (at most 31 days per query)."""
    check_plant(principal, plant)
    wanted = check_tags(tag)
    span = time_range(start, end, longest=timedelta(days=31))
    rows = await db.fetch_all(
        "SELECT tag, device, poll_group, hour, expected_count, received_count, good_count, "
        "completeness FROM completeness_hourly WHERE plant_id = %(plant)s "
        "AND (%(all)s OR tag = ANY(%(tags)s)) AND hour >= date_trunc('hour', %(start)s) "
        "AND hour < %(end)s ORDER BY tag, hour",
        {"plant": plant, "all": wanted is None, "tags": wanted or [], "start": span.start,
         "end": span.end})
    return [CompletenessHour.model_validate(row) for row in rows]


@router.get("/plants/{plant}/lab-results", response_model=list[LabResult])
async def lab_results(plant: PlantPath, principal: Reader, db: Db, start: Start = None,
                      end: End = None,
                      analyte: Annotated[list[Analyte] | None, Query()] = None
                      ) -> list[LabResult]:
    """Lab results of the plant sampled in [start, end) (default: the last 90 days)."""
    check_plant(principal, plant)
    span = time_range(start, end, default=timedelta(days=90))
    rows = await db.fetch_all(
        "SELECT event_id::text, sample_id, analyte, value, unit, sampled_at, recorded_at, "
        "recorded_by, digester FROM lab_results WHERE plant_id = %(plant)s "
        "AND (%(all)s OR analyte = ANY(%(analytes)s)) AND sampled_at >= %(start)s "
        "AND sampled_at < %(end)s ORDER BY sampled_at, sample_id, analyte",
        {"plant": plant, "all": not analyte, "analytes": [a.value for a in analyte or []],
         "start": span.start, "end": span.end})
    return [LabResult.model_validate(row) for row in rows]
