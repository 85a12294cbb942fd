"""Compiled kernel of :meth:`agents.detectors.thresholds.QuantileThresholds.decide`: for each
reading, its column's threshold (re-estimating a stale quantile), its vote, and the learning of
the scores that did not vote. Same arithmetic, same order as the numpy it replaced."""

from __future__ import annotations

import numpy as np

from agents.jit import Arr, kernel

#: above this a float64 bin position is no int64 (numpy's cast gives INT_MIN: bin 0)
_INT_LIMIT = 9.2e18


@kernel
def exact_quantile(row: Arr, quantile: float) -> float:
    """The upper edge of the bin where the histogram ``row`` reaches ``quantile`` of its
    total (0.0 for an empty histogram)."""
    bins = row.shape[0]
    total = 0.0
    for b in range(bins):
        total += row[b]
    if not total > 0:
        return 0.0
    goal = quantile * total
    cum = 0.0
    for b in range(bins):
        cum += row[b]
        if cum >= goal:
            return float((b + 1) / bins)
    return float(1.0 / bins)


@kernel
def learn_one(col: int, score: float, threshold: float, hist: Arr, seen: Arr, level: Arr,
              inc: Arr, age: Arr, decay: float) -> None:
    """Add one score to its column's decayed histogram."""
    bins = hist.shape[1]
    level[col] = threshold
    x = score * bins
    b = min(int(x), bins - 1) if x >= 0.0 and x < _INT_LIMIT else 0
    weight = inc[col] / decay
    inc[col] = weight
    hist[col, b] += weight
    seen[col] += 1.0
    age[col] += 1.0
    if weight > 1e12:
        for j in range(bins):
            hist[col, j] /= weight
        inc[col] = 1.0


@kernel
def decide(idx: Arr, scores: Arr, eligible: Arr, hist: Arr, seen: Arr, level: Arr, inc: Arr,
           cached_q: Arr, age: Arr, target: Arr, quantile: float, margin: float, floor: float,
           warmup: float, max_rise: float, decay: float, refresh: float, threshold: Arr,
           voted: Arr) -> None:
    """Threshold and vote of each reading (columns ``idx`` are distinct); eligible scores that
    do not vote are learnt."""
    for i in range(idx.shape[0]):
        col = idx[i]
        if age[col] >= refresh or np.isnan(cached_q[col]):
            q = exact_quantile(hist[col], quantile)
            cached_q[col] = q
            target[col] = max(q + margin * (1.0 - q), floor)
            age[col] = 0.0
        warm = seen[col] >= warmup
        thr = target[col]
        if level[col] > 0 and warm:
            thr = min(thr, level[col] + max_rise)
        threshold[i] = thr
        vote = eligible[i] and warm and scores[i] > thr
        voted[i] = vote
        if eligible[i] and not vote:
            learn_one(col, scores[i], thr, hist, seen, level, inc, age, decay)
