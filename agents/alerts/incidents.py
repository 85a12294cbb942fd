"""Incidents of one plant: anomalies in, one alert per problem out (pure, no Kafka).

* Each anomaly's findings give a probable cause (:mod:`agents.alerts.causes`). Among the
  open incidents with an anomaly in the ``LINK_S`` (15 min) of event time before it, an
  anomaly with a *primary* cause (a CHP trip, a heating failure, acidification, ...) joins
  the one of that cause, else takes over the latest one that has no primary cause (opened by
  a PLC alarm bit, say, whose heating findings come later: one incident), else opens its
  own; a PLC alarm word joins one of its own or opens one; a *secondary* cause (the holder
  or flare reacting, one sensor, anything else) joins the latest, else opens one. So a
  fault's consequences join the fault's incident while two faults stay two incidents.
* An incident is one alert: ``AlertOpened`` names the cause in words (title), its key
  (``cause``) and the evidence (``summary``); ``AlertUpdated`` follows when the severity rises,
  tags join, the cause is named better, or the anomaly count reaches 2, 5, 10, 20, 50, ...
* Hysteresis: an incident clears (``AlertCleared``) after ``clear_after_s`` of processing time
  without an anomaly joining it. Flap suppression: for ``holdoff_s`` after a clear, anomalies
  of the same cause do not open a new incident (counted in ``suppressed``).
* Retrospective anomalies (backfill) make incidents of their own with ``retrospective=true``
  and severity ``info``, which do not page.
* Replays are harmless: anomaly ids already seen are ignored, and every id is a UUID5 of the
  incident and its step. Acknowledgements (commands from the API) are recorded.
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from agents.alerts.causes import Cause, cause_of
from agents.errors import StateError
from streams.events import (
    AlertAcknowledged,
    AlertCleared,
    AlertOpened,
    AlertUpdated,
    AnomalyDetected,
    Severity,
)

NAMESPACE = uuid.UUID("2b8f3c61-94a4-4f0e-8d8e-6c1f2d7a9b53")
SEEN_ANOMALIES = 2000
MAX_TAGS = 50
SUMMARY_FINDINGS = 4
#: an anomaly joins an incident only if the incident had an anomaly this close before it, in
#: event time (a replay processed in seconds keeps hours-apart faults apart)
LINK_S = 900.0
_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}
CRITICAL_SCORE = 3.0
STATE_VERSION = 2

AlertEvent = AlertOpened | AlertUpdated | AlertCleared


def _milestone(count: int) -> bool:
    """2, 5, 10, 20, 50, 100, ...: counts worth an ``AlertUpdated``."""
    if count < 2:
        return False
    while count % 10 == 0:
        count //= 10
    return count in (1, 2, 5)


@dataclass
class Incident:
    alert_id: str
    cause: str
    tier: str
    title: str
    summary: str
    tags: list[str]
    retrospective: bool
    severity: str
    count: int
    first_anomaly_at: float
    last_anomaly_at: float
    last_seen: float  # processing time of the latest anomaly (epoch s)
    acknowledged_by: str | None = None


def _summary(anomaly: AnomalyDetected) -> str:
    texts = list(dict.fromkeys(f.text for f in anomaly.findings))[:SUMMARY_FINDINGS]
    return "; ".join(texts) or f"unusual readings of {', '.join(anomaly.tags[:5])}"


@dataclass
class PlantAlerts:
    """The alert state of one plant (JSON-serialisable)."""

    plant_id: str
    partition: int = 0
    incidents: dict[str, Incident] = field(default_factory=dict)  # by alert id
    holdoff_until: dict[str, float] = field(default_factory=dict)  # by cause|live
    seen: deque[str] = field(default_factory=lambda: deque(maxlen=SEEN_ANOMALIES))
    suppressed: int = 0

    def _target(self, cause: Cause, anomaly: AnomalyDetected) -> Incident | None:
        """The open incident the anomaly joins (None: it opens one). Only incidents with an
        anomaly within ``LINK_S`` of event time before it count as around it."""
        at = anomaly.event_time.timestamp()
        mine = sorted((i for i in self.incidents.values()
                       if i.retrospective == anomaly.retrospective
                       and i.last_anomaly_at >= at - LINK_S),
                      key=lambda i: i.last_anomaly_at, reverse=True)
        same = next((i for i in mine if i.cause == cause.key), None)
        if cause.tier == "primary":
            return same or next((i for i in mine if i.tier != "primary"), None)
        if cause.tier == "alarm":
            return same
        return mine[0] if mine else None

    def on_anomaly(self, anomaly: AnomalyDetected, now: datetime, *,
                   holdoff_s: float) -> list[AlertEvent]:
        aid = str(anomaly.anomaly_id)
        if aid in self.seen:
            return []
        self.seen.append(aid)
        cause = cause_of(anomaly.findings, anomaly.tags)
        severity = severity_of(anomaly, cause)
        t_now = now.timestamp()
        incident = self._target(cause, anomaly)
        if incident is None:
            key = f"{cause.key}|live"
            if not anomaly.retrospective and t_now < self.holdoff_until.get(key, 0.0):
                self.suppressed += 1
                return []
            return [self._open(anomaly, cause, severity, now)]
        incident.count += 1
        incident.last_anomaly_at = max(incident.last_anomaly_at,
                                       anomaly.event_time.timestamp())
        incident.last_seen = t_now
        changes: dict[str, Any] = {}
        rose = _RANK[severity] > _RANK[Severity(incident.severity)]
        if rose:
            incident.severity = severity.value
        new_tags = [t for t in anomaly.tags if t not in incident.tags]
        if new_tags and len(incident.tags) < MAX_TAGS:
            incident.tags.extend(new_tags[:MAX_TAGS - len(incident.tags)])
            changes["tags"] = tuple(incident.tags)
        # a primary cause names the incident; so does a graver finding of the same cause
        # (the heating's circulation stopped, after its temperatures fell)
        graver = rose and cause.severity is Severity.CRITICAL and incident.cause == cause.key
        if cause.tier == "primary" and (incident.cause != cause.key or graver):
            incident.cause, incident.tier = cause.key, cause.tier
            incident.title, incident.summary = cause.title[:200], _summary(anomaly)
            changes.update(title=incident.title, cause=incident.cause,
                           summary=incident.summary)
        if changes or rose or _milestone(incident.count):
            return [AlertUpdated(
                event_id=uuid.uuid5(NAMESPACE, f"{incident.alert_id}|update|{incident.count}"),
                alert_id=uuid.UUID(incident.alert_id), plant_id=self.plant_id,
                severity=Severity(incident.severity), anomaly_count=incident.count,
                last_anomaly_at=datetime.fromtimestamp(incident.last_anomaly_at, UTC),
                updated_at=now, **changes)]
        return []

    def _open(self, anomaly: AnomalyDetected, cause: Cause, severity: Severity,
              now: datetime) -> AlertOpened:
        kind = "retro" if anomaly.retrospective else "live"
        alert_id = uuid.uuid5(NAMESPACE, f"{self.plant_id}|{kind}|{anomaly.anomaly_id}")
        t_event = anomaly.event_time.timestamp()
        incident = Incident(
            alert_id=str(alert_id), cause=cause.key, tier=cause.tier,
            title=cause.title[:200], summary=_summary(anomaly),
            tags=list(anomaly.tags[:MAX_TAGS]), retrospective=anomaly.retrospective,
            severity=severity.value, count=1, first_anomaly_at=t_event,
            last_anomaly_at=t_event, last_seen=now.timestamp())
        self.incidents[incident.alert_id] = incident
        return AlertOpened(
            event_id=uuid.uuid5(NAMESPACE, f"{alert_id}|open"), alert_id=alert_id,
            plant_id=self.plant_id, severity=severity, tags=tuple(incident.tags),
            title=incident.title, opened_at=now, anomaly_ids=(anomaly.anomaly_id,),
            retrospective=anomaly.retrospective, cause=cause.key,
            summary=incident.summary[:4000])

    def on_acknowledged(self, ack: AlertAcknowledged) -> bool:
        """Record an acknowledgement; False when the alert is not open here."""
        incident = self.incidents.get(str(ack.alert_id))
        if incident is None:
            return False
        incident.acknowledged_by = ack.acknowledged_by
        return True

    def tick(self, now: datetime, *, clear_after_s: float,
             holdoff_s: float) -> list[AlertCleared]:
        """Clear the incidents quiet for ``clear_after_s``."""
        t_now = now.timestamp()
        out = []
        for key, incident in list(self.incidents.items()):
            if t_now - incident.last_seen < clear_after_s:
                continue
            del self.incidents[key]
            if not incident.retrospective:
                self.holdoff_until[f"{incident.cause}|live"] = t_now + holdoff_s
            out.append(AlertCleared(
                event_id=uuid.uuid5(NAMESPACE, f"{incident.alert_id}|clear"),
                alert_id=uuid.UUID(incident.alert_id), plant_id=self.plant_id, cleared_at=now,
                reason=f"no anomaly for {clear_after_s:.0f} s after {incident.count} "
                       "anomalies"))
        return out

    def to_bytes(self) -> bytes:
        return orjson.dumps({
            "v": STATE_VERSION, "plant_id": self.plant_id, "partition": self.partition,
            "incidents": {k: asdict(v) for k, v in self.incidents.items()},
            "holdoff_until": self.holdoff_until, "seen": list(self.seen),
            "suppressed": self.suppressed})

    @classmethod
    def from_bytes(cls, data: bytes) -> PlantAlerts:
        """The state written by :meth:`to_bytes`, or by the per-tag episodes of earlier
        versions (each open episode becomes an incident of its tag, so it still clears);
        :class:`StateError` when unreadable."""
        try:
            raw: dict[str, Any] = orjson.loads(data)
            state = cls(plant_id=raw["plant_id"], partition=int(raw["partition"]))
            if raw.get("v") == STATE_VERSION:
                state.incidents = {k: Incident(**v) for k, v in raw["incidents"].items()}
            else:
                for ep in raw["episodes"].values():
                    state.incidents[ep["alert_id"]] = Incident(
                        alert_id=ep["alert_id"], cause="anomaly", tier="secondary",
                        title=f"{ep['tag']}: anomaly", summary=f"unusual readings of {ep['tag']}",
                        tags=[ep["tag"]], retrospective=ep["retrospective"],
                        severity=ep["severity"], count=ep["count"],
                        first_anomaly_at=ep["first_anomaly_at"],
                        last_anomaly_at=ep["last_anomaly_at"], last_seen=ep["last_seen"],
                        acknowledged_by=ep.get("acknowledged_by"))
            state.holdoff_until = {k: float(v) for k, v in raw["holdoff_until"].items()}
            state.seen.extend(raw["seen"])
            state.suppressed = int(raw["suppressed"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise StateError(f"alert state is unreadable: {exc}") from exc
        return state


def severity_of(anomaly: AnomalyDetected, cause: Cause | None = None) -> Severity:
    """``info`` for retrospective anomalies; ``critical`` for a critical cause, a range
    violation or a score at least ``CRITICAL_SCORE`` times its threshold; ``warning``
    otherwise."""
    if anomaly.retrospective:
        return Severity.INFO
    if cause is not None and cause.severity is Severity.CRITICAL:
        return Severity.CRITICAL
    if any(d.voted and d.name == "rule.range" for d in anomaly.detectors):
        return Severity.CRITICAL
    if anomaly.score >= CRITICAL_SCORE * anomaly.threshold:
        return Severity.CRITICAL
    return Severity.WARNING
