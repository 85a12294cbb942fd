"""The subspace model: fit, ONNX export, the shared window track, what it finds that one tag's
band cannot (a broken correlation, an oscillation), and loading it as a deployed model."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from agents.detectors.deployed import load_model
from agents.detectors.envelope import EnvelopeParams
from agents.detectors.envelope_track import EnvelopeTrack, decaying_peaks
from agents.detectors.rules import RuleSpec
from agents.detectors.subspace import SubspaceDetector, SubspaceParams, frame_features
from agents.errors import ModelError
from agents.pipeline import ModelSlot, ScanProcessor
from agents.stream_state import DetectionConfig
from modelops.export.envelope import export_envelope, fit_envelope
from modelops.export.subspace import (
    export_subspace,
    fit_subspace,
    reference_deviations,
    window_features,
)
from streams.events import AnomalyDetected, ModelRef, Quality, Reading, ScanRecorded

TAGS = ("inflow", "outflow", "level")
MODELS_ONLY = (RuleSpec(pattern="*", statistical=False, stuck_after_s=None, max_bad_share=None),)


def normal_rows(n: int, seed: int = 0) -> np.ndarray:
    """Inflow wanders widely; outflow follows it closely; the level is independent."""
    rng = np.random.default_rng(seed)
    inflow = 100.0 + 10.0 * np.sin(np.arange(n) / 40.0) + rng.normal(0.0, 0.3, n)
    outflow = inflow + rng.normal(0.0, 0.3, n)
    level = rng.normal(5.0, 0.2, n)
    return np.column_stack([inflow, outflow, level])


def test_onnx_deviations_equal_the_reference_and_the_limits_are_calibrated() -> None:
    fit = fit_subspace(normal_rows(600), TAGS)
    det = SubspaceDetector(export_subspace(fit), name="sub")
    assert det.tags == TAGS and det.params == SubspaceParams()
    features = window_features(normal_rows(300, seed=1) * [1.0, 1.02, 1.0], 15)
    features[[3, 40], 1] = np.nan  # no reading: counted as the training mean
    onnx_out = det.deviations(features)
    assert np.abs(onnx_out - reference_deviations(fit, features)).max() < 1e-6
    assert np.isfinite(onnx_out).all()
    # calibrated: the training rows pass ratio 1.0 (the top tag's deviation) in about 1 %
    train = window_features(normal_rows(600), 15)
    share = (reference_deviations(fit, train).max(axis=1) > 1.0).mean()
    assert 0.005 <= share <= 0.02


def test_the_shared_track_forms_the_features_exactly_as_training_does() -> None:
    values = normal_rows(60)
    values[[5, 6, 30], 1] = np.nan
    track = EnvelopeTrack(TAGS, 15, None)
    online = np.array([frame_features(track.push_frames(row))[0] for row in values])
    assert np.allclose(online, window_features(values, 15), equal_nan=True, rtol=0,
                       atol=1e-12)


def scans(values: np.ndarray, start: datetime) -> list[ScanRecorded]:
    boot = uuid.uuid4()
    return [ScanRecorded(
        event_id=uuid.uuid4(), plant_id="p1", edge_boot_id=boot, seq=i, device="skid",
        poll_group="fast", source_ts=start + timedelta(seconds=i),
        readings=tuple(Reading(tag=t, value=float(v), quality=Quality.GOOD)
                       for t, v in zip(TAGS, row, strict=True)))
        for i, row in enumerate(values)]


def run(model: SubspaceDetector | object, values: np.ndarray) -> list[AnomalyDetected]:
    proc = ScanProcessor(DetectionConfig(), MODELS_ONLY, late_after_s=1e9,
                         model=ModelSlot(model))  # type: ignore[arg-type]
    return [a for s in scans(values, datetime(2026, 1, 1, tzinfo=UTC))
            for a in proc.process(s).anomalies]


def faulted(kind: str) -> np.ndarray:
    stream = normal_rows(1000, seed=3)
    if kind == "decoupled":  # outflow stops following inflow, each within its own range
        stream[600:, 1] = 100.0 + 0.3 * np.random.default_rng(9).normal(size=400)
    elif kind == "oscillating":  # the level swings, inside its band's width
        stream[600:, 2] += 0.4 * np.sign(np.sin(np.arange(400) * 1.7))
    return stream


@pytest.mark.parametrize("kind", ["decoupled", "oscillating"])
def test_it_finds_what_no_single_tag_band_shows_and_names_the_tag(kind: str) -> None:
    train = normal_rows(600)
    ref = ModelRef(model_id="sub", version="1", sha256="b" * 64)
    model = SubspaceDetector(export_subspace(fit_subspace(train, TAGS)), name="sub", ref=ref)
    assert not run(model, np.vstack([train, normal_rows(1000, seed=3)]))  # a normal stretch
    found = run(model, np.vstack([train, faulted(kind)]))
    assert found, kind
    culprit = "outflow" if kind == "decoupled" else "level"
    assert culprit in found[0].tags and found[0].models == (ref,)
    assert found[0].top_features[0].name.startswith(f"{culprit}:sub.")
    assert found[0].event_time >= datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=1200)
    assert found[0].event_time <= datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=1500)
    # the envelope, one band per tag, sees neither within its default level
    envelope = load_model(export_envelope(fit_envelope(train, TAGS)), name="env")
    fault_start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=1200)
    assert not [a for a in run(envelope, np.vstack([train, faulted(kind)]))
                if a.event_time >= fault_start]


def test_a_tag_that_never_moved_in_training_stands_out_when_it_moves() -> None:
    """An alarm word that stayed 0 while the model learnt: a 1 in it is the scan's finding,
    named after it (scaled by one, as a varying feature would be, it hid below the level)."""
    train = np.column_stack([normal_rows(600), np.zeros(600)])
    tags = (*TAGS, "alarm_word")
    ref = ModelRef(model_id="sub", version="1", sha256="c" * 64)
    model = SubspaceDetector(export_subspace(fit_subspace(train, tags)), name="sub", ref=ref)
    stream = np.column_stack([normal_rows(400, seed=3), np.zeros(400)])
    stream[200:, 3] = 1.0
    proc = ScanProcessor(DetectionConfig(), MODELS_ONLY, late_after_s=1e9,
                         model=ModelSlot(model))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    boot = uuid.uuid4()
    found = [a for i, row in enumerate(np.vstack([train, stream]))
             for a in proc.process(ScanRecorded(
                 event_id=uuid.uuid4(), plant_id="p1", edge_boot_id=boot, seq=i,
                 device="skid", poll_group="fast", source_ts=start + timedelta(seconds=i),
                 readings=tuple(Reading(tag=t, value=float(v), quality=Quality.GOOD)
                                for t, v in zip(tags, row, strict=True)))).anomalies]
    assert found and found[0].tags == ("alarm_word",)
    assert found[0].event_time == start + timedelta(seconds=800)  # the first scan with it


def test_one_huge_event_does_not_silence_the_model_for_weeks() -> None:
    """A squared distance grows without bound: after a fault code of 1201 the peak it
    leaves is held to ``peak_cap`` alarm levels, so a later fault of a few levels is
    flagged within a few half-lives; remembered whole, it would hide it for ~40."""
    params = SubspaceParams(peak_half_life_scans=100.0)
    uncapped = replace(params, peak_cap=None)
    later = 4.0 * params.alarm_level
    for p, flagged_after in ((params, True), (uncapped, False)):
        track = EnvelopeTrack(TAGS, 1, None)
        track.judge(np.array([1e12, 0.0, 0.0]), p.alarm_level, p.peak_share, p.decay,
                    p.memory_limit)
        for _ in range(600):  # six half-lives
            track.judge(np.zeros(3), p.alarm_level, p.peak_share, p.decay, p.memory_limit)
        flagged, _ = track.judge(np.array([0.0, later, 0.0]), p.alarm_level, p.peak_share,
                                 p.decay, p.memory_limit)
        assert bool(flagged[1]) is flagged_after, p.peak_cap
    worst = np.array([1e12, *np.zeros(600), later])  # the offline replay's peaks agree
    peaks = decaying_peaks(worst, params.decay, params.memory_limit)
    track = EnvelopeTrack(TAGS, 1, None)
    online = [track.judge(np.array([w, 0.0, 0.0]), params.alarm_level, params.peak_share,
                          params.decay, params.memory_limit) and track.peak
              for w in worst.tolist()]
    assert np.allclose(peaks, online, rtol=1e-12)


def test_loaded_by_its_kind_and_a_bad_one_is_refused() -> None:
    fit = fit_subspace(normal_rows(200), TAGS, replace(SubspaceParams(), window_scans=5))
    model = load_model(export_subspace(fit), name="m")
    assert isinstance(model, SubspaceDetector) and model.params.window_scans == 5
    with pytest.raises(ModelError, match="not a subspace model"):
        SubspaceDetector(export_envelope(fit_envelope(normal_rows(200), TAGS)))
    with pytest.raises(ModelError, match="too few"):
        fit_subspace(normal_rows(10), TAGS)
    with pytest.raises(ModelError, match="variance_kept"):
        SubspaceParams(variance_kept=0.0)
    with pytest.raises(ModelError, match="peak_cap"):
        SubspaceParams(peak_cap=0.5)
    assert isinstance(SubspaceParams(), EnvelopeParams)  # the track's alarm rule applies
