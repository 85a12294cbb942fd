"""The envelope's constants chosen leaving one SKAB folder out: the offline predictions are the
online path's, the choice never sees the folder it is scored on, and the whole benchmark's
held-out figure is held."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from agents.detectors.envelope import EnvelopeParams
from agents.detectors.subspace import SubspaceParams
from agents.stream_state import DetectionConfig
from evaluation import skab_lofo
from evaluation.replay import ReplayOptions
from evaluation.skab_data import FEATURES, TRAIN_ROWS, SkabFile, load_skab
from evaluation.skab_lofo import FAR_LIMIT, envelope_predictions, leave_one_folder_out
from evaluation.skab_runner import MODELS_ONLY, predict_file
from evaluation.skab_scoring import OutlierScore

SKAB = Path(__file__).resolve().parents[3] / "shared" / "bench" / "skab"


def synthetic(name: str, seed: int, shift: float, rows: int = 700) -> SkabFile:
    """Eight noisy sensors; from row 500 on, two of them move by ``shift`` spreads."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(rows, len(FEATURES))) + np.arange(len(FEATURES)) * 10.0
    anomaly = np.zeros(rows, dtype=np.int8)
    values[500:, 2:4] += shift
    anomaly[500:] = 1
    times = (1_600_000_000 + np.arange(rows)).astype(np.int64)
    return SkabFile(name, times, values, anomaly, np.zeros(rows, dtype=np.int8))


def test_the_offline_predictions_are_the_replayed_detector_paths() -> None:
    options = ReplayOptions(config=DetectionConfig(baseline=None), rules=MODELS_ONLY)
    for k, shift in enumerate((0.0, 1.5, 4.0)):
        f = synthetic(f"f/{k}.csv", k, shift)
        online = predict_file(f, options, ["envelope"])
        (offline,) = envelope_predictions([f], EnvelopeParams())
        assert len(online) == len(f.times) - TRAIN_ROWS
        np.testing.assert_array_equal(offline, online)
    # the subspace model likewise
    f = synthetic("f/s.csv", 4, 5.0)
    online = predict_file(f, options, ["subspace"])
    (offline,) = envelope_predictions([f], SubspaceParams())
    np.testing.assert_array_equal(offline, online)
    assert online[100:].mean() > 0.5
    # and with other constants (what the grid tries) the two still agree on the rule
    f = synthetic("f/x.csv", 7, 2.0)
    params = replace(EnvelopeParams(), window_scans=5, alarm_level=1.4, peak_share=0.1)
    (a,) = envelope_predictions([f], params)
    assert a[100:].mean() > 0.5  # the shift is found


def test_the_choice_keeps_the_false_alarm_limit_and_never_sees_the_held_out_folder(
        monkeypatch: pytest.MonkeyPatch) -> None:
    files = [synthetic(f"{d}/{k}.csv", 10 * i + k, shift)
             for i, (d, shift) in enumerate((("a", 3.0), ("b", 2.0), ("c", 4.0)))
             for k in range(2)]
    seen: list[set[str]] = []
    score = skab_lofo._score

    def spying(tracks: list[skab_lofo._FileTrack], params: EnvelopeParams) -> OutlierScore:
        seen.append({skab_lofo.folder(t.file) for t in tracks})
        return score(tracks, params)

    monkeypatch.setattr(skab_lofo, "_score", spying)
    result = leave_one_folder_out(files)
    assert [c.held_out for c in result.folders] == ["a", "b", "c"]
    for choice in result.folders:
        assert choice.tuning.far <= FAR_LIMIT
    # each choice was scored only on the other folders
    per_folder = len(seen) // 3
    for n, held in enumerate("abc"):
        assert all(held not in s for s in seen[n * per_folder:(n + 1) * per_folder])
    assert result.pooled.f1 > 0.8


def test_choose_prefers_f1_within_the_limit_and_the_lowest_rate_otherwise() -> None:
    a, b, c = (replace(EnvelopeParams(), alarm_level=x) for x in (1.5, 2.0, 2.5))
    assert skab_lofo._choose({a: OutlierScore(0.9, 12.0, 5.0), b: OutlierScore(0.8, 9.0, 10.0),
                              c: OutlierScore(0.7, 2.0, 30.0)}) == b
    assert skab_lofo._choose({a: OutlierScore(0.9, 12.0, 5.0),
                              c: OutlierScore(0.7, 11.0, 30.0)}) == c


@pytest.mark.skipif(not SKAB.is_dir(), reason="SKAB data not beside the project")
@pytest.mark.detection
def test_skab_held_out_by_folder_keeps_false_alarms_under_ten_percent() -> None:
    result = leave_one_folder_out(load_skab(SKAB))
    assert {c.held_out for c in result.folders} == {"other", "valve1", "valve2"}
    # reached: F1 0.80 (0.797 before SKAB's rounding), FAR 7.91 %, MAR 29.18 %
    assert result.pooled.f1 >= 0.79 and result.pooled.far <= FAR_LIMIT


def test_baselines_are_compared_at_the_envelopes_false_alarm_rate() -> None:
    from evaluation.baselines import baseline_scores, max_abs_z, pca_t2_spe
    from evaluation.skab_baselines import baselines_at_far

    files = [synthetic(f"a/{k}.csv", k, 3.0) for k in range(3)]
    f = files[0]
    tags = list(FEATURES)
    # the row score passes 1.0 exactly where the baseline flags
    for name, flags in (("max-|z|", max_abs_z), ("PCA T²/SPE", pca_t2_spe)):
        score = baseline_scores(name, f.features[:TRAIN_ROWS], f.features)
        np.testing.assert_array_equal(score > 1.0,
                                      flags(tags, f.features[:TRAIN_ROWS], f.features).flags)
    for b in baselines_at_far(files, 5.0):
        assert b.at_far.far <= 5.0 and b.at_far.far > 3.0, b  # placed at the rate asked
        assert b.at_far.mar < 50.0, b  # a 3-spread shift of two sensors is found


@pytest.mark.skipif(not SKAB.is_dir(), reason="SKAB data not beside the project")
@pytest.mark.detection
def test_skab_subspace_held_out_beats_pca_at_its_false_alarm_rate() -> None:
    from evaluation.skab_baselines import baselines_at_far

    files = load_skab(SKAB)
    result = leave_one_folder_out(files, kind="subspace")
    # reached: F1 0.80, FAR 8.91 %, MAR 28.65 %
    assert result.pooled.f1 >= 0.80 and result.pooled.far <= FAR_LIMIT
    pca = next(b for b in baselines_at_far(files, result.pooled.far)
               if b.name == "PCA T²/SPE")
    assert pca.at_far.far <= result.pooled.far and pca.at_far.f1 < result.pooled.f1 - 0.1
