"""The one-pass threshold decision and the column-slice window updates against their plain forms."""

from __future__ import annotations

import numpy as np

from agents.detectors.thresholds import QuantileThresholds
from agents.features.windows import TagWindows


def _plain_decide(thr: QuantileThresholds, idx: np.ndarray, scores: np.ndarray,
                  eligible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    threshold = thr.thresholds(idx)
    warm = thr.warm(idx)
    voted = eligible & warm & (scores > threshold)
    learn = eligible & ~voted
    thr.observe(idx[learn], scores[learn], threshold[learn])
    return threshold, voted


def test_decide_equals_thresholds_then_observe() -> None:
    rng = np.random.default_rng(2)
    fast = QuantileThresholds(warmup=50, margin=0.3, half_life_s=69.0)
    plain = QuantileThresholds(warmup=50, margin=0.3, half_life_s=69.0)
    idx = np.arange(3, 15)
    for step in range(3000):
        scores = rng.random(idx.size) ** 3
        if step % 40 == 0:
            scores[step % idx.size] = 0.999
        eligible = rng.random(idx.size) > 0.05
        sel = slice(3, 15) if step % 2 else None
        got = fast.decide(idx, scores, eligible, sel)
        want = _plain_decide(plain, idx, scores, eligible)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    for name in QuantileThresholds.ARRAYS:
        assert np.array_equal(getattr(fast, name), getattr(plain, name), equal_nan=True)


def test_one_column_methods_equal_the_array_ones() -> None:
    rng = np.random.default_rng(3)
    one = QuantileThresholds(warmup=20, bins=1000, capacity=1, half_life_s=13.5)
    arr = QuantileThresholds(warmup=20, bins=1000, capacity=1, half_life_s=13.5)
    col = np.zeros(1, dtype=np.int64)
    for _ in range(2000):
        threshold = one.threshold_one(0)
        assert threshold == float(arr.thresholds(col)[0])
        assert one.warm_one(0) == bool(arr.warm(col)[0])
        score = float(rng.random())
        one.observe_one(0, score, threshold)
        arr.observe(col, np.array([score]), np.array([threshold]))
    for name in QuantileThresholds.ARRAYS:
        assert np.array_equal(getattr(one, name), getattr(arr, name), equal_nan=True)


def test_windows_agree_whatever_the_order_of_the_readings() -> None:
    rng = np.random.default_rng(4)
    tags = [f"t{i}" for i in range(9)]
    ordered, shuffled = TagWindows(), TagWindows()
    ordered.slots(tags)
    shuffled.slots(tags)
    for k in range(900):
        ts = 1000.0 + 2.0 * k - (30.0 if k % 37 == 0 else 0.0)
        values = rng.normal(size=len(tags)).round(1)
        values[k % 9] = np.nan if k % 5 == 0 else values[k % 9]
        good = rng.random(len(tags)) > 0.03
        perm = rng.permutation(len(tags))
        a = ordered.update(ts, ordered.slots(tags), values, good)
        b = shuffled.update(ts, shuffled.slots([tags[i] for i in perm]), values[perm],
                            good[perm])
        back = np.argsort(perm)
        for field in ("jump", "roc_per_s", "noise_before"):
            assert np.array_equal(getattr(a, field), getattr(b, field)[back], equal_nan=True)
    for name in TagWindows.ARRAYS:
        assert np.array_equal(getattr(ordered, name), getattr(shuffled, name), equal_nan=True)
