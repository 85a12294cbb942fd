"""SKAB scoring: reproduces the published Isolation Forest row exactly from the raw data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from evaluation.skab_data import load_skab
from evaluation.skab_scoring import (
    changepoint_events,
    changepoint_score,
    outlier_score,
    rolling,
)

SKAB = Path(__file__).resolve().parents[3] / "shared" / "bench" / "skab"


def test_rolling_matches_pandas_semantics() -> None:
    values = np.array([0, 1, 1, np.nan, 1, 0, 0], dtype=np.float64)
    median = rolling(values, 3, "median")
    assert np.isnan(median[:2]).all()
    assert median[2] == 1.0
    assert np.isnan(median[3:6]).all()  # a window holding NaN gives NaN
    assert median[6] == 0.0


def test_edges_of_a_binary_prediction() -> None:
    p = np.array([1, 1, 0, 0, 1, 0], dtype=np.float64)
    assert changepoint_events(p).tolist() == [1, 0, 1, 0, 1, 1]


def test_perfect_and_null_changepoint_detectors() -> None:
    times = np.arange(0, 600, dtype=np.int64)
    cps = np.zeros(600, dtype=np.int8)
    cps[[100, 300]] = 1
    perfect = changepoint_score([times], [cps], [cps.astype(np.float64)])
    assert (perfect.standard, perfect.low_fp, perfect.low_fn) == (100.0, 100.0, 100.0)
    null = changepoint_score([times], [cps], [np.zeros(600)])
    assert (null.standard, null.missed, null.false_positives) == (0.0, 2, 0)
    late = np.zeros(600)
    late[[160, 500]] = 1  # at the right edge of the first window, and one false positive
    score = changepoint_score([times], [cps], [late])
    assert score.missed == 1 and score.false_positives == 1
    # right edge worth A_fp (-0.11), one miss (-1), one FP (-0.11): 100*(-1.22+2)/(2+2)
    assert score.standard == 19.5


def test_outlier_scores_are_pooled() -> None:
    truth = [np.array([1, 1, 0, 0]), np.array([0, 0, 1, 1])]
    pred = [np.array([1.0, 0, 0, 0]), np.array([1.0, 0, 1, 1])]
    score = outlier_score(truth, pred)
    # TP 3, FP 1, FN 1, TN 3
    assert (score.f1, score.far, score.mar) == (0.75, 25.0, 25.0)


@pytest.mark.skipif(not SKAB.is_dir(), reason="SKAB data not beside the project")
def test_reproduces_the_published_isolation_forest_row() -> None:
    files = load_skab(SKAB)
    assert len(files) == 34
    truths, preds, times, cps, events = [], [], [], [], []
    for f in files:
        train, test = f.split()
        model = IsolationForest(random_state=0, contamination=0.0005).fit(train.features)
        p = rolling((model.predict(test.features) == -1).astype(np.float64), 3, "median")
        truths.append(test.anomaly)
        preds.append(p)
        times.append(test.times)
        cps.append(test.changepoint)
        events.append(changepoint_events(p, dilation=30))
    outliers = outlier_score(truths, preds)
    assert (outliers.f1, outliers.far, outliers.mar) == (0.29, 2.56, 82.89)
    cp = changepoint_score(times, cps, events)
    assert (cp.windows, cp.missed, cp.false_positives) == (127, 76, 135)
    assert (cp.standard, cp.low_fp, cp.low_fn) == (26.16, 19.5, 30.82)
