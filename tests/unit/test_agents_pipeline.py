"""The detector path without Kafka: scripted faults are found and explained, replays are safe."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from agents.detectors.rules import DEFAULT_RULES, RuleSpec
from agents.pipeline import ScanProcessor, stream_key
from agents.stream_state import DetectionConfig
from streams.events import AnomalyDetected, ScanRecorded
from tests.agents_streams import Faults, scripted_scans

START = datetime(2026, 3, 1, tzinfo=UTC)
RULES = (RuleSpec(pattern="*", stuck_after_s=120.0), *DEFAULT_RULES)
#: the per-reading statistical family alone (the baseline detector is tested on its own)
STATISTICAL = DetectionConfig(warmup=200, statistical=True, baseline=None)


def following(scans: list[ScanRecorded]) -> Callable[[], datetime]:
    """A wall clock one second behind the newest scan processed (live data)."""
    now = [START]

    def clock() -> datetime:
        return now[0]

    clock.now = now  # type: ignore[attr-defined]
    return clock


def run(scans: list[ScanRecorded], processor: ScanProcessor) -> list[AnomalyDetected]:
    found = []
    for scan in scans:
        processor.clock.now[0] = scan.source_ts + timedelta(seconds=1)  # type: ignore[attr-defined]
        found.extend(processor.process(scan).anomalies)
    return found


def processor(scans: list[ScanRecorded], features_every_s: int = 60) -> ScanProcessor:
    return ScanProcessor(STATISTICAL, RULES, clock=following(scans),
                         features_every_s=features_every_s)


def first_for(anomalies: list[AnomalyDetected], tag: str) -> AnomalyDetected:
    return next(a for a in anomalies if tag in a.tags)


def test_spike_stuck_and_drift_are_found_and_explained() -> None:
    scans = scripted_scans(2000, START, faults=Faults(spike_at=800, stuck_from=1000,
                                                      drift_from=1400, drift_per_s=0.02))
    anomalies = run(scans, processor(scans))
    by_tag = {t for a in anomalies for t in a.tags}
    assert by_tag == {"gas.pressure", "dig1.ph", "agit1.current"}

    spike = first_for(anomalies, "gas.pressure")
    assert spike.event_time == scans[800].source_ts
    assert spike.score > spike.threshold == 1.0
    assert [a for a in anomalies if "gas.pressure" in a.tags] == [spike]
    assert spike.top_features[0].name.startswith("gas.pressure:")
    assert any(v.name == "zscore" and v.voted and v.score > v.threshold for v in spike.detectors)

    stuck = first_for(anomalies, "dig1.ph")
    stuck_at = (stuck.event_time - scans[1000].source_ts).total_seconds()
    assert 120 <= stuck_at <= 125
    assert stuck.top_features[0].name == "dig1.ph:since_change_s"
    assert stuck.top_features[0].value >= 120
    assert any(v.name == "rule.stuck" and v.voted for v in stuck.detectors)

    drift = first_for(anomalies, "agit1.current")
    drift_after = (drift.event_time - scans[1400].source_ts).total_seconds()
    assert 0 < drift_after < 300
    mine = [c.name for c in drift.top_features if c.name.startswith("agit1.current:")]
    assert mine[0] in ("agit1.current:drift_t", "agit1.current:z_mean_short")
    assert not any(a.retrospective for a in anomalies)


def test_a_clean_stream_raises_nothing() -> None:
    scans = scripted_scans(3000, START, seed=11)
    assert run(scans, processor(scans)) == []


def test_replayed_scans_are_skipped_and_restored_state_continues_identically() -> None:
    scans = scripted_scans(1500, START, faults=Faults(spike_at=1200, stuck_from=1100))
    whole = run(scans, processor(scans))
    first = processor(scans)
    part = run(scans[:900], first)
    key = stream_key(scans[0])
    snapshot = first.snapshot(key)
    second = processor(scans)
    second.restore(key, snapshot)
    assert second.process(scans[899]).skipped
    rest = run(scans[600:], second)  # the replay overlaps what the snapshot holds
    assert [a.anomaly_id for a in part + rest] == [a.anomaly_id for a in whole]
    assert [a.model_dump(exclude={"detected_at"}) for a in part + rest] == \
        [a.model_dump(exclude={"detected_at"}) for a in whole]


def test_old_data_is_retrospective() -> None:
    scans = scripted_scans(1000, START, faults=Faults(spike_at=900))
    late = ScanProcessor(STATISTICAL, RULES, late_after_s=900.0,
                         clock=lambda: START + timedelta(hours=5))
    anomalies = [a for s in scans for a in late.process(s).anomalies]
    assert anomalies and all(a.retrospective for a in anomalies)


def test_features_are_published_once_per_period_per_tag() -> None:
    scans = scripted_scans(300, START)
    proc = processor(scans, features_every_s=60)
    events = []
    for scan in scans:
        events.extend(proc.process(scan).features)
    per_tag = [e for e in events if e.tag == "dig1.temp"]
    assert len(per_tag) == 5
    assert {e.window_s for e in events} == {60}
    assert per_tag[-1].features["mean_1m"] == pytest.approx(38.0, abs=0.05)
    assert all(e.edge_boot_id == scans[0].edge_boot_id for e in events)
    assert len({e.event_id for e in events}) == len(events)
    assert events[0].event_id == uuid.uuid5(
        uuid.UUID("7d0f6b7e-3f5c-4b8e-9a59-52b1c1a5e0d1"),
        f"features|{stream_key(scans[0])}|{scans[0].edge_boot_id}|0|dig1.temp")


def test_every_deployed_model_votes_under_its_own_name() -> None:
    from agents.detectors.onnx_scorer import OnnxDetector
    from agents.pipeline import ModelSlot
    from modelops.export.autoencoder import export_autoencoder, train_autoencoder
    from modelops.export.iforest import export_iforest, train_iforest
    from streams.events import ModelRef
    from tests.agents_streams import training_rows

    rows = training_rows(scripted_scans(1200, START, seed=4))
    slot = ModelSlot(
        OnnxDetector(export_iforest(train_iforest(rows, n_estimators=40)), name="iforest",
                     ref=ModelRef(model_id="iforest", version="1", sha256="1" * 64)),
        OnnxDetector(export_autoencoder(train_autoencoder(rows)), name="autoencoder",
                     ref=ModelRef(model_id="autoencoder", version="1", sha256="2" * 64)))
    scans = scripted_scans(1000, START, faults=Faults(spike_at=900, spike_len=20))
    proc = ScanProcessor(STATISTICAL, RULES, clock=following(scans),
                         model=slot)
    anomalies = run(scans, proc)
    names = {v.name for a in anomalies for v in a.detectors}
    assert {"zscore", "hst", "iforest", "autoencoder"} <= names
    scored = [a for a in anomalies if a.models]
    assert scored
    assert {m.model_id for a in scored for m in a.models} <= {"iforest", "autoencoder"}


def test_a_non_statistical_tag_is_judged_by_its_rules_only() -> None:
    # The spike on gas.pressure is found by the z-score; marked non-statistical (as a plant
    # marks a tag whose steps are normal), it is not, and its range rule still fires.
    scans = scripted_scans(1200, START, faults=Faults(spike_at=900, spike_len=5))
    quiet = (RuleSpec(pattern="gas.pressure", statistical=False), *RULES)
    assert "gas.pressure" in {t for a in run(scans, processor(scans)) for t in a.tags}
    proc = ScanProcessor(STATISTICAL, quiet, clock=following(scans))
    assert not [a for a in run(scans, proc) if "gas.pressure" in a.tags]
    ranged = (RuleSpec(pattern="gas.pressure", statistical=False, high=5.0), *RULES)
    proc = ScanProcessor(STATISTICAL, ranged, clock=following(scans))
    hits = [a for a in run(scans, proc) if "gas.pressure" in a.tags]
    assert hits and all({v.name for v in a.detectors if v.voted} == {"rule.range"}
                        for a in hits)


def test_the_sampling_period_is_learnt_and_kept_in_the_snapshot() -> None:
    scans = scripted_scans(100, START)
    minute = [s.model_copy(update={"source_ts": START + timedelta(minutes=k)})
              for k, s in enumerate(scans)]
    proc = processor(minute)
    run(minute[:30], proc)
    key = stream_key(minute[0])
    state = proc.states[key]
    assert state.period_s == pytest.approx(60.0)
    zscore = state.thresholds["zscore"]
    assert zscore.max_rise == pytest.approx(60 * zscore.max_rise_per_s)
    assert zscore.decay == pytest.approx(0.5 ** (60 / zscore.half_life_s))
    restored = processor(minute)
    restored.restore(key, proc.snapshot(key))
    assert restored.states[key].period_s == pytest.approx(60.0)
    assert restored.states[key].thresholds["zscore"].max_rise == zscore.max_rise
