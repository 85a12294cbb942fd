"""``GET /plants/{plant}/kpis``: daily KPIs (DOMAIN.md section 7)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.auth import check_plant, require
from api.deps import Db, Profiles
from api.errors import ApiProblemError, problem_responses
from api.kpis import HourRow, KpiDay, LabValue, daily_kpis
from api.params import PlantPath
from api.permissions import Permission
from api.tokens import Principal

router = APIRouter(tags=["kpis"], responses=problem_responses())
MAX_DAYS = 92


@router.get("/plants/{plant}/kpis", response_model=list[KpiDay])
async def kpis(plant: PlantPath, db: Db, profiles: Profiles,
               principal: Annotated[Principal, Depends(require(Permission.READ_KPIS))],
               start: Annotated[date | None, Query(description="First UTC day (default: 6 "
                                                   "days before end).")] = None,
               end: Annotated[date | None, Query(description="Last UTC day, inclusive "
                                                 "(default: today).")] = None) -> list[KpiDay]:
    """Per UTC day: biogas and methane volumes, oTS fed, organic loading rate, specific biogas
    and methane yield, CHP electrical and thermal efficiency, availability, capacity
    utilisation and flare losses. Constants and tag names come from the plant profile."""
    check_plant(principal, plant)
    last = end or datetime.now(UTC).date()
    first = start or (last - timedelta(days=6) if last.year >= 1970 else last)
    if first > last or (last - first).days >= MAX_DAYS or first.year < 1970 or last.year > 2199:
        raise ApiProblemError(422, "Invalid request", f"need start <= end, at most {MAX_DAYS} "
                              "days, between 1970 and 2199")
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    day_end = {d: datetime.combine(d + timedelta(days=1), time(), UTC) for d in days}
    begin = datetime.combine(first, time(), UTC)
    profile = profiles.for_plant(plant)
    tags = sorted({profile.gas_flow_chp, profile.gas_flow_flare, profile.gas_ch4,
                   profile.chp_p_el, profile.chp_p_th, profile.chp_energy_el,
                   profile.chp_running, *(s.tag for s in profile.substrates)})
    rows = await db.fetch_all(
        "SELECT tag, bucket, value_avg, value_min, value_max FROM rollup_1h "
        "WHERE plant_id = %s AND tag = ANY(%s) AND bucket >= %s AND bucket < %s",
        (plant, tags, begin, day_end[last]))
    lab = await db.fetch_all(
        "SELECT sample_id, analyte, value, unit, sampled_at FROM lab_results "
        "WHERE plant_id = %s AND analyte IN ('ts', 'ots') AND sampled_at < %s",
        (plant, day_end[last]))
    return daily_kpis(profile,
                      [HourRow(r["tag"], r["bucket"], r["value_avg"], r["value_min"],
                               r["value_max"]) for r in rows],
                      [LabValue(r["sample_id"], r["analyte"], r["value"], r["unit"],
                                r["sampled_at"]) for r in lab], days, day_end)
