"""Commands: acknowledge or comment on an alert, record lab results. Each becomes an event on
the log carrying the actor (the token's subject); the projections show it once projected.
Every command is also logged as an ``audit`` event (who, when, what)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, File, UploadFile

from api.auth import check_plant, require
from api.deps import Db, Publisher
from api.errors import ApiProblemError, problem_responses
from api.lab_csv import LabCsvError, parse_lab_csv
from api.params import PlantPath
from api.permissions import Permission
from api.routes_alerts import find_alert
from api.schemas_commands import Accepted, AcknowledgeIn, CommentIn, LabResultIn
from api.tokens import Principal
from streams.events import AlertAcknowledged, AlertCommented, EventBase, LabResultRecorded
from streams.logsetup import get_logger

router = APIRouter(tags=["commands"], responses=problem_responses(404, 409, 413))
log = get_logger("api.audit")
MAX_UPLOAD_BYTES = 2_000_000


def _audit(principal: Principal, command: str, events: list[EventBase], **what: object) -> None:
    log.info("audit", actor=principal.sub, role=principal.role.value, command=command,
             event_ids=[str(e.event_id) for e in events], **what)


@router.post("/alerts/{alert_id}/acknowledge", status_code=202, response_model=Accepted)
async def acknowledge(
        alert_id: UUID, body: AcknowledgeIn, db: Db, publisher: Publisher,
        principal: Annotated[Principal, Depends(require(Permission.ACK_ALERT))]) -> Accepted:
    """Take responsibility for an open alert (409 when it is already acknowledged or cleared)."""
    found = await find_alert(db, principal, alert_id)
    if found.state != "open":
        raise ApiProblemError(409, "Conflict", f"alert {alert_id} is {found.state}, "
                              "only an open alert can be acknowledged")
    now = datetime.now(UTC)
    event = AlertAcknowledged(alert_id=alert_id, plant_id=found.plant_id,
                              acknowledged_by=principal.sub, comment=body.comment,
                              acknowledged_at=now)
    await publisher.publish([event])
    _audit(principal, "alert_acknowledge", [event], plant_id=found.plant_id,
           alert_id=str(alert_id))
    return Accepted(event_ids=[event.event_id], recorded_at=now, actor=principal.sub)


@router.post("/alerts/{alert_id}/comments", status_code=202, response_model=Accepted)
async def comment(
        alert_id: UUID, body: CommentIn, db: Db, publisher: Publisher,
        principal: Annotated[Principal, Depends(require(Permission.COMMENT_ALERT))]) -> Accepted:
    """Add a comment to an alert (in any state)."""
    found = await find_alert(db, principal, alert_id)
    now = datetime.now(UTC)
    event = AlertCommented(alert_id=alert_id, plant_id=found.plant_id, author=principal.sub,
                           comment=body.comment, commented_at=now)
    await publisher.publish([event])
    _audit(principal, "alert_comment", [event], plant_id=found.plant_id, alert_id=str(alert_id))
    return Accepted(event_ids=[event.event_id], recorded_at=now, actor=principal.sub)


def _lab_events(plant: str, principal: Principal, results: list[LabResultIn],
                now: datetime) -> list[EventBase]:
    return [LabResultRecorded(plant_id=plant, sample_id=r.sample_id, analyte=r.analyte,
                              value=r.value, unit=r.unit, sampled_at=r.sampled_at,
                              recorded_at=now, recorded_by=principal.sub, digester=r.digester)
            for r in results]


LabWriter = Annotated[Principal, Depends(require(Permission.RECORD_LAB))]


@router.post("/plants/{plant}/lab-results", status_code=202, response_model=Accepted)
async def record_lab_result(plant: PlantPath, body: LabResultIn, principal: LabWriter,
                            publisher: Publisher) -> Accepted:
    """Record one lab result (FOS/TAC, VFA, dry matter, ...) of a sample."""
    check_plant(principal, plant)
    now = datetime.now(UTC)
    events = _lab_events(plant, principal, [body], now)
    await publisher.publish(events)
    _audit(principal, "lab_result", events, plant_id=plant, analytes=[body.analyte.value])
    return Accepted(event_ids=[e.event_id for e in events], recorded_at=now, actor=principal.sub)


@router.post("/plants/{plant}/lab-results/csv", status_code=202, response_model=Accepted,
             responses=problem_responses(413))
async def upload_lab_results(
        plant: PlantPath, principal: LabWriter, publisher: Publisher,
        file: Annotated[UploadFile, File(description=(
            "CSV with header sample_id,analyte,value,unit,sampled_at[,digester]; "
            "sampled_at ISO 8601 with an offset. Nothing is recorded unless every row is "
            "valid."))]) -> Accepted:
    """Record many lab results from a CSV file, all or nothing."""
    check_plant(principal, plant)
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ApiProblemError(413, "Upload too large",
                              f"at most {MAX_UPLOAD_BYTES} bytes per upload; split the file")
    try:
        results = parse_lab_csv(data)
    except LabCsvError as exc:
        raise ApiProblemError(422, "Invalid CSV", str(exc)) from exc
    now = datetime.now(UTC)
    events = _lab_events(plant, principal, results, now)
    await publisher.publish(events)
    _audit(principal, "lab_results_csv", events, plant_id=plant, rows=len(events),
           filename=file.filename)
    return Accepted(event_ids=[e.event_id for e in events], recorded_at=now, actor=principal.sub)
