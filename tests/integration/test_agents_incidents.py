"""On the real broker: the simulated plant, commissioned for four days, then a gas leak that
sets the PLC's gas-alarm bit, a CHP trip and a heating failure. The agents worker, with its
shipped defaults and no rules file, opens exactly one incident for each, with the right
probable cause, and none before them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from modelops.rules_suggest import learn_from_log, suggestions
from simulator.catalogue import plant_catalogue
from simulator.engine import Simulation
from simulator.scenario import parse_scenario
from streams.events import AlertOpened, AlertUpdated, AnomalyDetected, ScanRecorded
from streams.events.edge import Quality, Reading
from streams.topics import Topics
from tests.integration.agents_harness import (
    Collector,
    Worker,
    delete_app_topics,
    produce,
    worker_env,
)
from tests.integration.conftest import StackEndpoints

PLANT = "sim-plant"
STEP_S = 60.0
LEAD_IN_H = 96.0  # the shipped commissioning period (BIOGAS_AGENTS_COMMISSION_S)
FAULTS = [  # hours after commissioning: kind, start, duration, magnitude
    ("gas_leak", 3.0, 1.0, 25.0),  # %LEL 37: the PLC's gas-alarm bit and the detector's DI
    ("chp_trip", 7.0, 1.0, None),
    ("heating_failure", 11.0, 4.0, None),
]
END_H = 17.0


def simulated_scans(start: datetime) -> tuple[list[ScanRecorded], dict[str, tuple[float, float]]]:
    """Every minute of the simulated plant as one scan, and each fault's [start, end] in
    event time (epoch seconds)."""
    faults = [{"kind": k, "start_h": LEAD_IN_H + s, "duration_h": d,
               **({"magnitude": m} if m is not None else {})} for k, s, d, m in FAULTS]
    scenario = parse_scenario({"scenario": {"name": "incidents", "start": start, "seed": 17,
                                            "duration_h": LEAD_IN_H + END_H},
                               "faults": faults})
    sim = Simulation(scenario)
    boot = uuid.uuid5(uuid.NAMESPACE_URL, f"incidents-{start.isoformat()}")
    scans = []
    for seq, (elapsed, values) in enumerate(sim.run((LEAD_IN_H + END_H) * 3600.0, STEP_S)):
        readings = tuple(Reading(tag=t, value=v, quality=Quality.GOOD) if v == v
                         else Reading(tag=t, value=None, quality=Quality.COMM_FAIL)
                         for t, v in sorted(values.items()))
        scans.append(ScanRecorded(plant_id=PLANT, edge_boot_id=boot, seq=seq, device="plant",
                                  poll_group="all", readings=readings,
                                  source_ts=start + timedelta(seconds=elapsed)))
    windows = {k: ((start + timedelta(hours=LEAD_IN_H + s)).timestamp(),
                   (start + timedelta(hours=LEAD_IN_H + s + d)).timestamp())
               for k, s, d, _ in FAULTS}
    return scans, windows


def final_causes(opened: list[AlertOpened], updates: list[AlertUpdated]) -> dict[uuid.UUID, str]:
    cause = {o.alert_id: o.cause for o in opened}
    for u in sorted(updates, key=lambda u: u.anomaly_count):
        if u.cause is not None:
            cause[u.alert_id] = u.cause
    return cause


async def test_each_fault_opens_exactly_one_incident_with_its_cause(
        stack: StackEndpoints, topics: Topics, unique: str, tmp_path: Path) -> None:
    start = (datetime.now(UTC) - timedelta(hours=LEAD_IN_H + END_H)).replace(microsecond=0)
    scans, windows = simulated_scans(start)
    catalogue = plant_catalogue(PLANT, parse_scenario({}).plant.naming,
                                sorted(r.tag for r in scans[0].readings),
                                scans[0].edge_boot_id, start)
    # the shipped defaults: no rules file, no statistical detectors, four days to commission;
    # only what a replay of old data needs (not retrospective) and quick batches differ
    env = worker_env(stack, topics, f"agents-{unique}", tmp_path / "data",
                     late_after_s="1000000000", batch_within_s="0.05",
                     alert_clear_after_s="3600")
    worker = Worker(env, tmp_path / "worker.log").start()
    try:
        await produce(stack, topics, [catalogue])
        await produce(stack, topics, scans)
        async with Collector(stack, topics, ["anomalies", "alerts"]) as c:
            def done(c: Collector) -> bool:
                last = max((a.event_time for a in c.of(AnomalyDetected)), default=None)
                heating = windows["heating_failure"][0] + 2 * 3600.0
                causes = set(final_causes(c.of(AlertOpened), c.of(AlertUpdated)).values())
                critical = {u.alert_id for u in c.of(AlertUpdated)
                            if u.severity.value == "critical"}
                heated = [a for a, cause in final_causes(c.of(AlertOpened),
                                                         c.of(AlertUpdated)).items()
                          if cause == "heating_failure"]
                return last is not None and last.timestamp() >= heating and \
                    {"gas_leak", "chp_trip", "heating_failure"} <= causes and \
                    all(a in critical for a in heated)
            await c.wait_for(done, worker, timeout=300, what="the three incidents")
            opened = c.of(AlertOpened)
            causes = final_causes(opened, c.of(AlertUpdated))
            first_fault = min(a for a, _ in windows.values())
            anomalies = c.of(AnomalyDetected)
            assert not [a for a in anomalies if a.event_time.timestamp() < first_fault], \
                "an anomaly before the first fault (while the plant was healthy)"
            by_cause: dict[str, list[AlertOpened]] = {}
            for o in opened:
                by_cause.setdefault(causes[o.alert_id], []).append(o)
            assert sorted(by_cause) == ["chp_trip", "gas_leak", "heating_failure"], causes
            assert all(len(v) == 1 for v in by_cause.values()), by_cause
            for kind, cause in (("gas_leak", "gas_leak"), ("chp_trip", "chp_trip"),
                                ("heating_failure", "heating_failure")):
                (incident,) = by_cause[cause]
                begin, end = windows[kind]
                first = min(a.event_time.timestamp() for a in anomalies
                            if incident.anomaly_ids[0] == a.anomaly_id)
                assert begin <= first <= end, (kind, first - begin)
                assert first - begin <= 300.0, f"{kind} found after {first - begin:.0f} s"
            (trip,) = by_cause["chp_trip"]
            assert "1201" in trip.title and not trip.retrospective
            assert trip.severity.value == by_cause["gas_leak"][0].severity.value == "critical"
            (heating,) = by_cause["heating_failure"]  # opened by the PLC's heating-fault bit
            assert any(u.alert_id == heating.alert_id and u.severity.value == "critical"
                       for u in c.of(AlertUpdated))
            titles = [u.title for u in sorted(c.of(AlertUpdated), key=lambda u: u.anomaly_count)
                      if u.alert_id == heating.alert_id and u.title]
            assert titles and "no heat reaches the digester" in titles[-1], titles
        # what the worker learnt, read from the log again for an engineer to review
        processor = await learn_from_log(stack.kafka, topics, PLANT,
                                         commission_s=LEAD_IN_H * 3600.0)
        rules = {s.tag: s.rule for s in suggestions(processor, PLANT)}
        assert rules["chp.fault_code"] == {"pattern": "chp.fault_code", "kind": "alarm"}
        assert rules["chp.hours"] == {"pattern": "chp.hours", "kind": "counter"}
        temp = rules["dig1.temp"]
        assert temp is not None and temp["kind"] == "analog"
        assert 38.0 < temp["low"] < 40.0 < temp["high"] < 42.0
    finally:
        worker.stop()
        await delete_app_topics(stack, f"agents-{unique}")
