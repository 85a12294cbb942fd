"""NAB scoring on the real corpus and on hand-computed cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluation.nab_data import NabFile, load_nab
from evaluation.nab_scoring import PROFILES, NabScorer, sigmoid

NAB = Path(__file__).resolve().parents[3] / "shared" / "bench" / "nab"


def _file(n: int, windows: tuple[tuple[int, int], ...]) -> NabFile:
    return NabFile("f.csv", np.arange(n, dtype=np.int64) * 300, np.zeros(n), windows)


def test_scaled_sigmoid_values() -> None:
    values = sigmoid(np.array([-1.0, 0.0, 1.0, 3.5]))
    assert values[0] == pytest.approx(0.98661, abs=1e-5)
    assert values[1] == 0.0
    assert values[2] == pytest.approx(-0.98661, abs=1e-5)
    assert values[3] == -1.0


def test_hand_computed_file() -> None:
    f = _file(1000, ((200, 209), (600, 619)))
    scorer = NabScorer([f])
    scores = np.zeros(1000)
    scores[200] = 1.0  # left edge of window 1: worth exactly A_TP
    scores[205] = 1.0  # later detection in the same window: free
    scores[100] = 1.0  # inside probation (150 rows): ignored
    scores[300] = 1.0  # FP long after window 1: costs about A_FP
    result = scorer.score([scores], 0.5, "standard")
    fp_cost = 0.11 * float(sigmoid(np.array([abs(209 - 300) / 9]))[0])
    assert result.raw == pytest.approx(1.0 - 1.0 + fp_cost)
    assert (result.detected_windows, result.false_positive_rows) == (1, 1)


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_perfect_and_null_detectors_on_the_corpus(profile: str) -> None:
    if not NAB.is_dir():
        pytest.skip("NAB data not beside the project")
    files = load_nab(NAB)
    assert len(files) == 58
    scorer = NabScorer(files)
    assert scorer.windows == 116
    perfect = []
    for f in files:
        s = np.zeros(len(f.values))
        for left, _ in f.windows:
            s[left] = 1.0
        perfect.append(s)
    assert scorer.score(perfect, 0.5, profile).normalised == pytest.approx(100.0)
    null = [np.zeros(len(f.values)) for f in files]
    assert scorer.score(null, 0.5, profile).normalised == pytest.approx(0.0)
    assert scorer.optimise(null, profile).normalised == pytest.approx(0.0)


def test_the_optimised_threshold_is_found_among_rare_positive_scores() -> None:
    # 2 of 1000 rows score above zero, the false positive higher than the true one: the
    # optimiser must still try a threshold between the two (quantiles of all rows offer only
    # zero and the maximum), and do at least as well as any fixed one.
    f = _file(1000, ((600, 619),))
    scorer = NabScorer([f])
    scores = np.zeros(1000)
    scores[600] = 0.7  # the window's left edge
    scores[300] = 0.9  # a false positive
    best = scorer.optimise([scores], "standard")
    assert (best.detected_windows, best.false_positive_rows) == (1, 1)
    assert best.threshold == pytest.approx(0.7)
    assert best.raw >= scorer.score([scores], 0.5, "standard").raw
