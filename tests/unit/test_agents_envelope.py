"""The envelope model: fit, ONNX export, the per-stream track, its vote and explanations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import onnx
import pytest

from agents.detectors.deployed import load_model
from agents.detectors.envelope import EnvelopeDetector, EnvelopeParams
from agents.detectors.envelope_track import EnvelopeTrack
from agents.detectors.onnx_scorer import OnnxDetector
from agents.detectors.rules import RuleSpec
from agents.errors import ModelError
from agents.pipeline import ModelSlot, ScanProcessor
from agents.stream_state import DetectionConfig
from modelops.export.envelope import (
    export_envelope,
    fit_envelope,
    reference_deviations,
    rolling_means,
)
from streams.events import ModelRef, Quality, Reading, ScanRecorded

TAGS = ("flow", "pressure", "current")
MODELS_ONLY = (RuleSpec(pattern="*", statistical=False, stuck_after_s=None, max_bad_share=None),)


def normal_rows(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.normal(100.0, 2.0, n), rng.normal(3.0, 0.1, n),
                            rng.normal(12.0, 0.5, n)])


def test_rolling_means_are_causal_and_ignore_missing_values() -> None:
    values = np.array([[1.0], [np.nan], [3.0], [5.0], [np.nan], [np.nan], [np.nan]])
    means = rolling_means(values, 3)[:, 0]
    assert means[:4].tolist() == [1.0, 1.0, 2.0, 4.0]
    assert means[4] == 4.0 and means[5] == 5.0 and np.isnan(means[6])


def test_onnx_deviations_equal_the_reference() -> None:
    fit = fit_envelope(normal_rows(400), TAGS)
    det = EnvelopeDetector(export_envelope(fit), name="env")
    assert det.tags == TAGS and det.params == EnvelopeParams()
    means = rolling_means(normal_rows(300, seed=1) * [1.0, 1.2, 1.0], 15)
    assert np.abs(det.deviations(means) - reference_deviations(fit, means)).max() < 1e-5
    # calibrated: the training rows' worst deviation exceeds 1.0 in about 1 % of rows
    train_means = rolling_means(normal_rows(400), 15)
    share = (reference_deviations(fit, train_means).max(axis=1) > 1.0).mean()
    assert 0.005 <= share <= 0.02


def test_the_track_smooths_exactly_as_training_does() -> None:
    values = normal_rows(60)
    values[[5, 6, 30], 1] = np.nan
    track = EnvelopeTrack(TAGS, 15, None)
    online = np.array([track.push(row)[0] for row in values])
    assert np.array_equal(online, rolling_means(values, 15), equal_nan=True)


def test_a_gross_fault_then_a_small_offset_then_a_new_fault() -> None:
    track = EnvelopeTrack(TAGS, 1, None)
    params = EnvelopeParams(window_scans=1, peak_half_life_scans=100.0)
    judge = [track.judge(np.array(d), params.alarm_level, params.peak_share, params.decay)
             for d in ([0.5, 0.4, 0.2], [0.5, 50.0, 0.2], [0.5, 3.0, 0.2])]
    assert not judge[0][0].any() and judge[0][1] == 2.0
    assert judge[1][0].tolist() == [False, True, False] and judge[1][1] == 10.0
    # 3.0 is above the alarm level but below a fifth of the recent peak: the leftover offset
    assert not judge[2][0].any() and judge[2][1] == pytest.approx(10.0 * params.decay)
    for _ in range(400):  # four half-lives: the peak has faded
        track.judge(np.array([0.5, 0.5, 0.2]), 2.0, 0.2, params.decay)
    flagged, bar = track.judge(np.array([0.5, 3.0, 0.2]), 2.0, 0.2, params.decay)
    assert flagged.tolist() == [False, True, False] and bar == 2.0


def scans(values: np.ndarray, start: datetime) -> list[ScanRecorded]:
    boot = uuid.uuid4()
    return [ScanRecorded(
        event_id=uuid.uuid4(), plant_id="p1", edge_boot_id=boot, seq=i, device="skid",
        poll_group="fast", source_ts=start + timedelta(seconds=i),
        readings=tuple(Reading(tag=t, value=float(v), quality=Quality.GOOD)
                       for t, v in zip(TAGS, row, strict=True)))
        for i, row in enumerate(values)]


def processor(model: EnvelopeDetector) -> ScanProcessor:
    return ScanProcessor(DetectionConfig(), MODELS_ONLY, late_after_s=1e9,
                         model=ModelSlot(model))


def test_the_envelope_votes_alone_explains_and_survives_a_restart() -> None:
    train = normal_rows(400)
    ref = ModelRef(model_id="env", version="3", sha256="a" * 64)
    model = EnvelopeDetector(export_envelope(fit_envelope(train, TAGS)), name="env", ref=ref)
    stream = normal_rows(700, seed=5)
    stream[500:, 1] += 1.0  # pressure 10 sigmas up from scan 500
    events = scans(np.vstack([train, stream]), datetime(2026, 1, 1, tzinfo=UTC))
    whole = processor(model)
    anomalies = [a for s in events for a in whole.process(s).anomalies]
    assert anomalies and all(a.tags == ("pressure",) for a in anomalies)
    first = anomalies[0]
    assert events[900].source_ts <= first.event_time <= events[915].source_ts
    (vote,) = [v for v in first.detectors if v.voted]  # the others are kept away (MODELS_ONLY)
    assert vote.name == "env" and vote.voted and vote.score > vote.threshold == 0.5
    assert first.models == (ref,) and first.score > 1.0
    top = first.top_features[0]
    assert top.name == "pressure:env.deviation" and top.value > 2.0 and top.contribution > 0.5
    assert len(anomalies) >= 190  # the offset stays: (nearly) every later scan is flagged

    # a restart mid-stream (snapshot, new process, restore) changes nothing
    first_part = processor(model)
    for s in events[:950]:
        first_part.process(s)
    key = "p1|skid|fast"
    restarted = processor(model)
    restarted.restore(key, first_part.snapshot(key))
    after = [a for s in events[950:] for a in restarted.process(s).anomalies]
    assert [a.anomaly_id for a in after] == \
        [a.anomaly_id for a in anomalies if a.event_time >= events[950].source_ts]
    assert [a.score for a in after] == [a.score for a in anomalies[-len(after):]]


def test_a_new_version_starts_a_new_track() -> None:
    train = normal_rows(400)
    data = export_envelope(fit_envelope(train, TAGS))
    v1 = EnvelopeDetector(data, name="env", ref=ModelRef(model_id="env", version="1",
                                                         sha256="1" * 64))
    proc = processor(v1)
    for s in scans(train[:50], datetime(2026, 1, 1, tzinfo=UTC)):
        proc.process(s)
    track = proc.state("p1|skid|fast").envelopes["env"]
    assert track.sha == "1" * 64
    v2 = EnvelopeDetector(data, name="env", ref=ModelRef(model_id="env", version="2",
                                                         sha256="2" * 64))
    assert not track.fits(v2)
    proc.model.install(None, v2)
    proc.process(scans(train[:51], datetime(2026, 1, 1, tzinfo=UTC))[50])
    assert proc.state("p1|skid|fast").envelopes["env"].sha == "2" * 64


def test_models_load_by_their_declared_kind() -> None:
    data = export_envelope(fit_envelope(normal_rows(100), TAGS))
    assert isinstance(load_model(data, name="e"), EnvelopeDetector)
    model = onnx.load_model_from_string(data)
    onnx.helper.set_model_props(model, {"biogas.kind": "crystal-ball"})
    with pytest.raises(ModelError, match="unknown kind 'crystal-ball'"):
        load_model(model.SerializeToString(), name="e")
    onnx.helper.set_model_props(model, {"biogas.kind": "envelope", "biogas.tags": "[]",
                                        "biogas.params": "{}"})
    with pytest.raises(ModelError, match="names no tags"):
        load_model(model.SerializeToString(), name="e")
    onnx.helper.set_model_props(model, {"biogas.kind": "envelope", "biogas.tags": '["a"]',
                                        "biogas.params": '{"window_scans": 0}'})
    with pytest.raises(ModelError, match="window_scans must be >= 1"):
        load_model(model.SerializeToString(), name="e")
    per_reading = onnx.load_model_from_string(data)
    del per_reading.metadata_props[:]
    with pytest.raises(ModelError, match="not an envelope"):
        EnvelopeDetector(per_reading.SerializeToString(), name="e")
    assert not isinstance(load_model(data, name="e"), OnnxDetector)


def test_fitting_refuses_what_it_cannot_fit() -> None:
    with pytest.raises(ModelError, match="too few"):
        fit_envelope(normal_rows(5), TAGS)
    rows = normal_rows(100)
    rows[:, 2] = np.nan
    with pytest.raises(ModelError, match=r"no good reading of \['current'\]"):
        fit_envelope(rows, TAGS)
    with pytest.raises(ModelError, match="one column per tag"):
        fit_envelope(rows, TAGS[:2])
