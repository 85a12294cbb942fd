"""Incidents: one alert per problem with its probable cause; updates, clearing after a quiet
period, flap suppression, replays, acks, and the state of earlier versions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import orjson

from agents.alerts.causes import cause_of
from agents.alerts.incidents import PlantAlerts
from streams.events import (
    AlertAcknowledged,
    AlertCleared,
    AlertOpened,
    AlertUpdated,
    AnomalyDetected,
    DetectorVote,
    Finding,
    Severity,
)

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def finding(tag: str, check: str = "baseline.value", *, role: str | None = None,
            value: float = 1.0, low: float | None = 0.0, high: float | None = 0.5,
            text: str | None = None) -> Finding:
    return Finding(tag=tag, check=check, value=value, normal_low=low, normal_high=high,
                   role=role, text=text or f"{tag}: reading {value}, normally {low} to {high}")


def anomaly(n: int, tag: str = "dig1.ph", *, score: float = 1.5, rule: str | None = None,
            retrospective: bool = False, findings: tuple[Finding, ...] = ()
            ) -> AnomalyDetected:
    votes = [DetectorVote(name="zscore", score=0.9, threshold=0.7, voted=True)]
    if rule:
        votes.append(DetectorVote(name=rule, score=1.0, threshold=0.5, voted=True))
    tags = tuple(dict.fromkeys([*(f.tag for f in findings), tag])) if findings else (tag,)
    return AnomalyDetected(
        plant_id="plant-a", anomaly_id=uuid.uuid5(uuid.NAMESPACE_OID, f"{tags}{n}"),
        tags=tags, event_time=T0 + timedelta(seconds=n), detected_at=T0 + timedelta(seconds=n),
        score=score, threshold=1.0, detectors=tuple(votes), top_features=(),
        retrospective=retrospective, findings=findings)


def feed(alerts: PlantAlerts, *items: tuple[int, AnomalyDetected]) -> list[object]:
    out: list[object] = []
    for n, a in items:
        out += alerts.on_anomaly(a, T0 + timedelta(seconds=n), holdoff_s=600)
    return out


def test_an_incident_opens_updates_on_milestones_and_escalation_then_clears() -> None:
    alerts = PlantAlerts("plant-a")
    out = feed(alerts, *((n, anomaly(n)) for n in range(12)))
    opened = [e for e in out if isinstance(e, AlertOpened)]
    updates = [e for e in out if isinstance(e, AlertUpdated)]
    assert len(opened) == 1 and opened[0].severity is Severity.WARNING
    assert [u.anomaly_count for u in updates] == [2, 5, 10]
    escalated = feed(alerts, (12, anomaly(12, rule="rule.range")))
    assert [(e.severity, e.anomaly_count) for e in escalated
            if isinstance(e, AlertUpdated)] == [(Severity.CRITICAL, 13)]
    assert alerts.tick(T0 + timedelta(seconds=100), clear_after_s=300, holdoff_s=600) == []
    cleared = alerts.tick(T0 + timedelta(seconds=400), clear_after_s=300, holdoff_s=600)
    assert [c.alert_id for c in cleared] == [opened[0].alert_id]
    assert isinstance(cleared[0], AlertCleared) and "13 anomalies" in cleared[0].reason


def test_a_chp_trip_and_its_consequences_are_one_incident_with_its_cause() -> None:
    alerts = PlantAlerts("plant-a")
    trip = (finding("CHP1:FAULT", "baseline.alarm", role="chp.fault_code", value=1201.0,
                    low=None, high=None, text="CHP fault code = 1201"),
            finding("CHP1:JT_EL", role="chp.power", value=0.0, low=140.0, high=152.0))
    holder = (finding("GAS:LT_HOLDER", "baseline.slope_1h", role="gas.holder_fill",
                      value=12.0, low=-1.0, high=1.0),)
    out = feed(alerts, (0, anomaly(0, findings=trip)), (60, anomaly(60, findings=holder)),
               (120, anomaly(120, findings=trip)))
    (opened,) = [e for e in out if isinstance(e, AlertOpened)]
    assert opened.cause == "chp_trip" and opened.severity is Severity.CRITICAL
    assert opened.title.startswith("CHP tripped (fault code 1201)")
    assert "CHP fault code = 1201" in (opened.summary or "")
    (update,) = [e for e in out if isinstance(e, AlertUpdated)]
    assert update.tags is not None and "GAS:LT_HOLDER" in update.tags


def test_a_primary_cause_takes_over_an_incident_opened_by_an_alarm_bit() -> None:
    alerts = PlantAlerts("plant-a")
    bit = (finding("PLC:ALM", "baseline.alarm", role="plc.alarm_word", value=32.0, low=None,
                   high=None, text="PLC alarm word: bit 5 set"),)
    circ = (Finding(tag="derived:heating.delta_t", check="process.circulation", value=0.1,
                    normal_low=1.8, text="heating supply and return within 0.1 K"),)
    out = feed(alerts, (0, anomaly(0, findings=bit)), (60, anomaly(60, findings=circ)))
    opened = [e for e in out if isinstance(e, AlertOpened)]
    assert [o.cause for o in opened] == ["plc_alarm"]
    (update,) = [e for e in out if isinstance(e, AlertUpdated)]
    assert update.cause == "heating_failure" and update.severity is Severity.CRITICAL
    assert update.title is not None and update.title.startswith("Heating failure")
    # a second, unrelated primary fault is an incident of its own
    gas = (finding("GD:ALARM", "baseline.alarm", role="safety.gas_alarm", value=1.0, low=None,
                   high=None),)
    more = feed(alerts, (90, anomaly(90, findings=gas)))
    assert [o.cause for o in more if isinstance(o, AlertOpened)] == ["gas_leak"]
    assert len(alerts.incidents) == 2


def test_a_graver_finding_of_the_same_cause_renames_the_incident() -> None:
    alerts = PlantAlerts("plant-a")
    cold = (finding("HZ:RL", role="heating.return_temp", value=42.4, low=43.4, high=65.5,
                    text="heating return temperature: reading 42.4, below its normal"),)
    circ = (Finding(tag="derived:heating.delta_t", check="process.circulation", value=0.1,
                    normal_low=1.8, text="heating supply and return within 0.1 K"),)
    out = feed(alerts, (0, anomaly(0, findings=cold)), (60, anomaly(60, findings=circ)),
               (120, anomaly(120, findings=cold)))
    (opened,) = [e for e in out if isinstance(e, AlertOpened)]
    assert opened.cause == "heating_failure" and opened.title.startswith("Heating fault")
    updates = [e for e in out if isinstance(e, AlertUpdated)]
    assert updates[0].severity is Severity.CRITICAL
    assert updates[0].title is not None and updates[0].title.startswith("Heating failure")
    # the lesser finding after it names nothing again
    assert all(u.title is None for u in updates[1:])


def test_causes_in_words() -> None:
    assert cause_of((finding("x", "baseline.mean_1h", role="digester.fos_tac", value=0.31,
                             low=0.22, high=0.25),), ("x",)).key == "acidification"
    assert cause_of((finding("s", "baseline.stuck", value=7.5, low=None, high=None,
                             text="dig1.ph has not changed for 45 min"),), ("s",)).key \
        == "sensor"
    assert cause_of((), ("a", "b")).title == "unusual readings of a, b"


def test_air_dosing_fails_when_its_air_stops_not_when_it_follows_less_gas() -> None:
    stopped = finding("air", role="air.dosing_flow", value=0.0, low=4.0, high=9.0)
    assert cause_of((stopped,), ("air",)).key == "air_dosing_failure"
    off = finding("run", "baseline.state", role="air.dosing_run", value=0.0, low=None,
                  high=None)
    assert cause_of((off,), ("run",)).key == "air_dosing_failure"
    # a cold digester makes less gas, and the ratio controller doses less air into it
    less = finding("air", role="air.dosing_flow", value=2.5, low=4.0, high=9.0)
    assert cause_of((less,), ("air",)).key != "air_dosing_failure"
    cold = finding("t", "baseline.mean_1h", role="digester.temperature", value=36.0,
                   low=39.5, high=40.5)
    assert cause_of((less, cold), ("air", "t")).key == "digester_temperature"


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
    assert restored.incidents == a.incidents


def test_the_per_tag_episodes_of_earlier_versions_still_clear() -> None:
    old = {"plant_id": "plant-a", "partition": 2, "holdoff_until": {}, "seen": [],
           "suppressed": 0, "episodes": {"live|dig1.ph": {
               "alert_id": str(uuid.uuid4()), "tag": "dig1.ph", "retrospective": False,
               "severity": "warning", "count": 3, "first_anomaly_at": T0.timestamp(),
               "last_anomaly_at": T0.timestamp(), "last_seen": T0.timestamp(),
               "acknowledged_by": None}}}
    state = PlantAlerts.from_bytes(orjson.dumps(old))
    (cleared,) = state.tick(T0 + timedelta(seconds=400), clear_after_s=300, holdoff_s=600)
    assert str(cleared.alert_id) == old["episodes"]["live|dig1.ph"]["alert_id"]  # type: ignore[index]


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
    assert next(iter(alerts.incidents.values())).acknowledged_by == "tech"
    stranger = ack.model_copy(update={"alert_id": uuid.uuid4()})
    assert not alerts.on_acknowledged(stranger)
