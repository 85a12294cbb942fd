"""Alert episodes: open, update, clear after a quiet period, flap suppression, replays, acks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from agents.alerts.episodes import PlantAlerts
from streams.events import (
    AlertAcknowledged,
    AlertCleared,
    AlertOpened,
    AlertUpdated,
    AnomalyDetected,
    DetectorVote,
    Severity,
)

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def anomaly(n: int, tag: str = "dig1.ph", *, score: float = 1.5, rule: str | None = None,
            retrospective: bool = False) -> AnomalyDetected:
    votes = [DetectorVote(name="zscore", score=0.9, threshold=0.7, voted=True)]
    if rule:
        votes.append(DetectorVote(name=rule, score=1.0, threshold=0.5, voted=True))
    return AnomalyDetected(
        plant_id="plant-a", anomaly_id=uuid.uuid5(uuid.NAMESPACE_OID, f"{tag}{n}"), tags=(tag,),
        event_time=T0 + timedelta(seconds=n), detected_at=T0 + timedelta(seconds=n),
        score=score, threshold=1.0, detectors=tuple(votes), top_features=(), model=None,
        retrospective=retrospective)


def test_an_episode_opens_updates_on_milestones_and_escalation_then_clears() -> None:
    alerts = PlantAlerts("plant-a")
    out = []
    for n in range(12):
        out += alerts.on_anomaly(anomaly(n), T0 + timedelta(seconds=n), holdoff_s=600)
    opened = [e for e in out if isinstance(e, AlertOpened)]
    updates = [e for e in out if isinstance(e, AlertUpdated)]
    assert len(opened) == 1 and opened[0].severity is Severity.WARNING
    assert [u.anomaly_count for u in updates] == [2, 5, 10]
    escalated = alerts.on_anomaly(anomaly(12, rule="rule.range"), T0 + timedelta(seconds=12),
                                  holdoff_s=600)
    assert [(e.severity, e.anomaly_count) for e in escalated
            if isinstance(e, AlertUpdated)] == [(Severity.CRITICAL, 13)]
    assert alerts.tick(T0 + timedelta(seconds=100), clear_after_s=300, holdoff_s=600) == []
    cleared = alerts.tick(T0 + timedelta(seconds=400), clear_after_s=300, holdoff_s=600)
    assert [c.alert_id for c in cleared] == [opened[0].alert_id]
    assert isinstance(cleared[0], AlertCleared) and "13 anomalies" in cleared[0].reason


def test_flapping_is_suppressed_during_the_holdoff() -> None:
    alerts = PlantAlerts("plant-a")
    alerts.on_anomaly(anomaly(0), T0, holdoff_s=600)
    alerts.tick(T0 + timedelta(seconds=301), clear_after_s=300, holdoff_s=600)
    assert alerts.on_anomaly(anomaly(1), T0 + timedelta(seconds=400), holdoff_s=600) == []
    assert alerts.suppressed == 1
    again = alerts.on_anomaly(anomaly(2), T0 + timedelta(seconds=1000), holdoff_s=600)
    assert [type(e) for e in again] == [AlertOpened]


def test_replayed_anomalies_are_ignored_and_ids_are_deterministic() -> None:
    a, b = PlantAlerts("plant-a"), PlantAlerts("plant-a")
    first = a.on_anomaly(anomaly(0), T0, holdoff_s=600)
    assert a.on_anomaly(anomaly(0), T0, holdoff_s=600) == []
    twin = b.on_anomaly(anomaly(0), T0, holdoff_s=600)
    assert [e.event_id for e in first] == [e.event_id for e in twin]
    restored = PlantAlerts.from_bytes(a.to_bytes())
    assert restored.on_anomaly(anomaly(0), T0, holdoff_s=600) == []
    assert restored.episodes == a.episodes


def test_retrospective_anomalies_open_non_paging_alerts() -> None:
    alerts = PlantAlerts("plant-a")
    live = alerts.on_anomaly(anomaly(0), T0, holdoff_s=600)
    late = alerts.on_anomaly(anomaly(1, retrospective=True), T0, holdoff_s=600)
    opened = [e for e in late if isinstance(e, AlertOpened)]
    assert opened and opened[0].retrospective and opened[0].severity is Severity.INFO
    assert live[0].alert_id != opened[0].alert_id


def test_acknowledgements_are_recorded() -> None:
    alerts = PlantAlerts("plant-a")
    (opened,) = alerts.on_anomaly(anomaly(0), T0, holdoff_s=600)
    ack = AlertAcknowledged(alert_id=opened.alert_id, plant_id="plant-a",
                            acknowledged_by="tech", acknowledged_at=T0)
    assert alerts.on_acknowledged(ack)
    assert next(iter(alerts.episodes.values())).acknowledged_by == "tech"
    stranger = ack.model_copy(update={"alert_id": uuid.uuid4()})
    assert not alerts.on_acknowledged(stranger)
