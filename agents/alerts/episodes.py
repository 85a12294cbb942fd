"""Alert episodes of one plant: anomalies in, lifecycle events out (pure, no Kafka).

* One episode per (tag, retrospective). The first anomaly of a tag opens an alert
  (``AlertOpened``); later anomalies join it. ``AlertUpdated`` is emitted when the severity
  rises or the anomaly count reaches 2, 5, 10, 20, 50, ... (not once per anomaly).
* Hysteresis: an alert clears (``AlertCleared``) only after ``clear_after_s`` of processing time
  without a new anomaly for its tag.
* Flap suppression: for ``holdoff_s`` after a clear, anomalies of that tag do not open a new
  alert; they are counted in ``suppressed`` and logged by the caller.
* Retrospective anomalies (backfill) open alerts with ``retrospective=true`` and severity
  ``info``, which do not page; they clear like the others.
* Replays are harmless: anomaly ids already seen are ignored, and every id is a UUID5 of the
  alert and its step, so a re-emitted event is recognisable by ``event_id``.
* Acknowledgements (commands from the API) are recorded on the episode.
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

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
_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}
CRITICAL_SCORE = 3.0

AlertEvent = AlertOpened | AlertUpdated | AlertCleared


def _milestone(count: int) -> bool:
    """2, 5, 10, 20, 50, 100, ...: counts worth an ``AlertUpdated``."""
    if count < 2:
        return False
    while count % 10 == 0:
        count //= 10
    return count in (1, 2, 5)


@dataclass
class Episode:
    alert_id: str
    tag: str
    retrospective: bool
    severity: str
    count: int
    first_anomaly_at: float
    last_anomaly_at: float
    last_seen: float  # processing time of the latest anomaly (epoch s)
    acknowledged_by: str | None = None


@dataclass
class PlantAlerts:
    """The alert state of one plant (JSON-serialisable)."""

    plant_id: str
    partition: int = 0
    episodes: dict[str, Episode] = field(default_factory=dict)
    holdoff_until: dict[str, float] = field(default_factory=dict)
    seen: deque[str] = field(default_factory=lambda: deque(maxlen=SEEN_ANOMALIES))
    suppressed: int = 0

    def on_anomaly(self, anomaly: AnomalyDetected, now: datetime, *,
                   holdoff_s: float) -> list[AlertEvent]:
        aid = str(anomaly.anomaly_id)
        if aid in self.seen:
            return []
        self.seen.append(aid)
        out: list[AlertEvent] = []
        severity = severity_of(anomaly)
        t_now = now.timestamp()
        for tag in anomaly.tags:
            key = f"{'retro' if anomaly.retrospective else 'live'}|{tag}"
            ep = self.episodes.get(key)
            if ep is None:
                if not anomaly.retrospective and t_now < self.holdoff_until.get(tag, 0.0):
                    self.suppressed += 1
                    continue
                out.append(self._open(key, tag, anomaly, severity, now))
                continue
            ep.count += 1
            ep.last_anomaly_at = max(ep.last_anomaly_at, anomaly.event_time.timestamp())
            ep.last_seen = t_now
            rises = _RANK[severity] > _RANK[Severity(ep.severity)]
            if rises:
                ep.severity = severity.value
            if rises or _milestone(ep.count):
                out.append(AlertUpdated(
                    event_id=uuid.uuid5(NAMESPACE, f"{ep.alert_id}|update|{ep.count}"),
                    alert_id=uuid.UUID(ep.alert_id), plant_id=self.plant_id,
                    severity=Severity(ep.severity), anomaly_count=ep.count,
                    last_anomaly_at=datetime.fromtimestamp(ep.last_anomaly_at, UTC),
                    updated_at=now))
        return out

    def _open(self, key: str, tag: str, anomaly: AnomalyDetected, severity: Severity,
              now: datetime) -> AlertOpened:
        alert_id = uuid.uuid5(NAMESPACE, f"{self.plant_id}|{key}|{anomaly.anomaly_id}")
        t_event = anomaly.event_time.timestamp()
        self.episodes[key] = Episode(
            alert_id=str(alert_id), tag=tag, retrospective=anomaly.retrospective,
            severity=severity.value, count=1, first_anomaly_at=t_event,
            last_anomaly_at=t_event, last_seen=now.timestamp())
        voted = [d.name for d in anomaly.detectors if d.voted]
        return AlertOpened(
            event_id=uuid.uuid5(NAMESPACE, f"{alert_id}|open"), alert_id=alert_id,
            plant_id=self.plant_id, severity=severity, tags=(tag,),
            title=f"{tag}: anomaly ({', '.join(voted) or 'vote'})"[:200], opened_at=now,
            anomaly_ids=(anomaly.anomaly_id,), retrospective=anomaly.retrospective)

    def on_acknowledged(self, ack: AlertAcknowledged) -> bool:
        """Record an acknowledgement; False when the alert is not open here."""
        for ep in self.episodes.values():
            if ep.alert_id == str(ack.alert_id):
                ep.acknowledged_by = ack.acknowledged_by
                return True
        return False

    def tick(self, now: datetime, *, clear_after_s: float,
             holdoff_s: float) -> list[AlertCleared]:
        """Clear the alerts quiet for ``clear_after_s``."""
        t_now = now.timestamp()
        out = []
        for key, ep in list(self.episodes.items()):
            if t_now - ep.last_seen < clear_after_s:
                continue
            del self.episodes[key]
            if not ep.retrospective:
                self.holdoff_until[ep.tag] = t_now + holdoff_s
            out.append(AlertCleared(
                event_id=uuid.uuid5(NAMESPACE, f"{ep.alert_id}|clear"),
                alert_id=uuid.UUID(ep.alert_id), plant_id=self.plant_id, cleared_at=now,
                reason=f"no anomaly for {clear_after_s:.0f} s after {ep.count} anomalies"))
        return out

    def to_bytes(self) -> bytes:
        return orjson.dumps({
            "plant_id": self.plant_id, "partition": self.partition,
            "episodes": {k: asdict(v) for k, v in self.episodes.items()},
            "holdoff_until": self.holdoff_until, "seen": list(self.seen),
            "suppressed": self.suppressed})

    @classmethod
    def from_bytes(cls, data: bytes) -> PlantAlerts:
        """The state written by :meth:`to_bytes`; :class:`StateError` when unreadable."""
        try:
            raw: dict[str, Any] = orjson.loads(data)
            state = cls(plant_id=raw["plant_id"], partition=int(raw["partition"]))
            state.episodes = {k: Episode(**v) for k, v in raw["episodes"].items()}
            state.holdoff_until = {k: float(v) for k, v in raw["holdoff_until"].items()}
            state.seen.extend(raw["seen"])
            state.suppressed = int(raw["suppressed"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise StateError(f"alert state is unreadable: {exc}") from exc
        return state


def severity_of(anomaly: AnomalyDetected) -> Severity:
    """``info`` for retrospective anomalies; ``critical`` for a range violation or a score at
    least ``CRITICAL_SCORE`` times its threshold; ``warning`` otherwise."""
    if anomaly.retrospective:
        return Severity.INFO
    if any(d.voted and d.name == "rule.range" for d in anomaly.detectors):
        return Severity.CRITICAL
    if anomaly.score >= CRITICAL_SCORE * anomaly.threshold:
        return Severity.CRITICAL
    return Severity.WARNING
