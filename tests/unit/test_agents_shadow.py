"""Shadow scoring in the detector path: a candidate beside the live model, never voting,
compared per stream and window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from agents.detectors.envelope import EnvelopeDetector
from agents.detectors.onnx_scorer import OnnxDetector
from agents.detectors.rules import DEFAULT_RULES, RuleSpec
from agents.pipeline import ModelSlot, ScanProcessor, stream_key
from agents.stream_state import DetectionConfig
from modelops.export.envelope import export_envelope, fit_envelope
from modelops.export.iforest import export_iforest, train_iforest
from streams.events import AnomalyDetected, ModelRef, ModelShadowCompared, ScanRecorded
from tests.agents_streams import NORMAL, Faults, scripted_scans, training_rows

START = datetime(2026, 3, 1, tzinfo=UTC)
RULES = (RuleSpec(pattern="*", stuck_after_s=120.0), *DEFAULT_RULES)
#: the per-reading statistical family alone (the baseline detector is tested on its own)
STATISTICAL = DetectionConfig(warmup=200, statistical=True, baseline=None)
SCANS = scripted_scans(1500, START, faults=Faults(spike_at=900, spike_len=20,
                                                  drift_from=1200, drift_per_s=0.02))


def iforest(version: str, seed: int) -> OnnxDetector:
    rows = training_rows(scripted_scans(1200, START, seed=4))
    data = export_iforest(train_iforest(rows, n_estimators=40, seed=seed))
    return OnnxDetector(data, name="iforest",
                        ref=ModelRef(model_id="iforest", version=version, sha256=version * 64))


def processor(slot: ModelSlot) -> ScanProcessor:
    return ScanProcessor(STATISTICAL, RULES, late_after_s=1e12, model=slot,
                         shadow_window_s=300.0, clock=lambda: START + timedelta(days=1))


def run(proc: ScanProcessor, scans: list[ScanRecorded]
        ) -> tuple[list[AnomalyDetected], list[ModelShadowCompared]]:
    anomalies, compared = [], []
    for scan in scans:
        out = proc.process(scan)
        anomalies.extend(out.anomalies)
        compared.extend(out.shadows)
    return anomalies, compared


def test_a_shadow_never_changes_what_the_live_path_publishes() -> None:
    live_only = processor(ModelSlot(iforest("1", 0)))
    expected, none = run(live_only, SCANS)
    slot = ModelSlot(iforest("1", 0))
    slot.install(None, iforest("2", 1), "shadow")
    anomalies, compared = run(processor(slot), SCANS)
    assert none == [] and expected
    assert [a.model_dump() for a in anomalies] == [a.model_dump() for a in expected]
    # windows of 300 s: [0, 300) ... [1200, 1500) closes only when a later scan arrives
    assert [c.window_end - c.window_start for c in compared] == [timedelta(seconds=300)] * 4
    assert sum(c.readings for c in compared) == 1200 * len(NORMAL)
    # the live decisions counted are exactly the readings the live path flagged
    flagged = sum(len(a.tags) for a in expected if a.event_time < START + timedelta(hours=1))
    assert sum(c.live_alarms for c in compared) == \
        sum(len(a.tags) for a in expected if a.event_time < SCANS[1200].source_ts) <= flagged
    for c in compared:
        assert c.live is not None and (c.live.version, c.candidate.version) == ("1", "2")
        assert c.stream == "plc1/fast" and c.model_id == "iforest"


def test_the_live_model_in_shadow_decides_exactly_as_live() -> None:
    slot = ModelSlot(iforest("1", 0))
    twin = iforest("1", 0)
    twin.ref = ModelRef(model_id="iforest", version="1b", sha256="b" * 64)
    slot.install(None, twin, "shadow")
    _, compared = run(processor(slot), SCANS)
    assert compared and all(c.live_alarms == c.candidate_alarms == c.both_alarms
                            and not c.differing_by_tag for c in compared)
    assert sum(c.live_alarms for c in compared) > 0


def test_an_envelope_in_shadow_with_none_live_is_compared_with_the_ensemble_without_it() -> None:
    train = np.array([[r.value for r in s.readings] for s in SCANS[:600]], dtype=np.float64)
    tags = tuple(r.tag for r in SCANS[0].readings)
    env = EnvelopeDetector(export_envelope(fit_envelope(train, tags)), name="envelope",
                           ref=ModelRef(model_id="envelope", version="1", sha256="e" * 64))
    slot = ModelSlot()
    slot.install("plant-a", env, "shadow")
    _, compared = run(processor(slot), SCANS)
    assert all(c.live is None for c in compared)
    # the drift from scan 1200 leaves the envelope: flagged by the candidate, partly not live
    last = compared[-1]
    assert last.window_start == START + timedelta(seconds=900)
    assert sum(c.candidate_alarms for c in compared) > sum(c.live_alarms for c in compared)
    assert "agit1.current" in last.differing_by_tag or "gas.pressure" in last.differing_by_tag


def test_shadow_windows_survive_a_restart_and_an_ended_shadow_is_forgotten() -> None:
    def slot() -> ModelSlot:
        s = ModelSlot(iforest("1", 0))
        s.install(None, iforest("2", 1), "shadow")
        return s

    _, whole = run(processor(slot()), SCANS)
    first = processor(slot())
    _, before = run(first, SCANS[:1000])
    key = stream_key(SCANS[0])
    second = processor(slot())
    second.restore(key, first.snapshot(key))
    _, after = run(second, SCANS[1000:])
    assert [c.model_dump() for c in before + after] == [c.model_dump() for c in whole]

    second.model.remove_shadow(None, "iforest")
    more = scripted_scans(10, START, first_seq=1500)
    _, ended = run(second, more)
    (closed,) = ended  # the open window closes at the first scan without the shadow
    assert closed.window_end == more[0].source_ts
    state = second.state(key)
    assert not state.shadows and "shadow:iforest" not in state.thresholds
