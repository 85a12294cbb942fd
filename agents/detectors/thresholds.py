"""Per-tag adaptive thresholds: a decayed histogram of each tag's scores and its upper quantile.

Scores lie in [0, 1]. Each tag keeps ``bins`` counters; every new score decays the tag's
counters and adds to its bin, so the histogram forgets with a half-life of ``half_life_s``
seconds of stream time (one day by default: a daily cycle, or a heater cycling every few hours,
stays in memory). The threshold is the histogram's ``quantile`` q raised by ``margin`` of the
headroom above it, ``q + margin * (1 - q)``, never below ``floor``. A threshold rises by at
most ``max_rise_per_s`` per second of stream time (it falls at once), so a slowly growing
anomaly (a drift) cannot drag its own threshold up ahead of it. Both are rates in time, not per
sample: :meth:`QuantileThresholds.set_period` converts them for the stream's sampling period
(1 s until it is set), so a tag polled every minute learns as fast, in hours, as one polled
every second. A tag is warm once it has ``warmup`` samples; only warm tags may vote.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from agents.detectors.threshold_kernels import decide, exact_quantile, learn_one
from agents.features.windows import F64, I64


class QuantileThresholds:
    """Adaptive thresholds for one detector, one column per tag."""

    REFRESH = 16
    ARRAYS = ("hist", "seen", "level", "inc", "cached_q", "age")

    def __init__(self, *, quantile: float = 0.999, margin: float = 0.05, floor: float = 0.5,
                 warmup: int = 300, half_life_s: float = 86_400.0, bins: int = 200,
                 max_rise_per_s: float = 0.0002,
                 capacity: int = 8) -> None:
        self.quantile, self.margin, self.floor = quantile, margin, floor
        self.warmup, self.bins = warmup, bins
        self.half_life_s, self.max_rise_per_s = half_life_s, max_rise_per_s
        self.period_s = 1.0
        #: per sample: the histogram's decay factor and the largest rise of a threshold
        self.decay = 1.0
        self.max_rise = 0.0
        self.set_period(1.0)
        self.level: F64 = np.zeros(capacity)
        self.hist: F64 = np.zeros((capacity, bins))
        self.seen: F64 = np.zeros(capacity)
        # Decay without touching every bin: each new sample weighs 1/decay times the previous
        # one (``inc``); a column is renormalised when its weight grows large.
        self.inc: F64 = np.ones(capacity)
        self.cached_q: F64 = np.full(capacity, np.nan)
        self.age: F64 = np.zeros(capacity)
        # the target (before the rate limit) of each cached quantile
        self._target: F64 = np.full(capacity, np.nan)

    def set_period(self, seconds: float) -> None:
        """The stream's sampling period: the per-sample decay and rise follow from it."""
        self.period_s = seconds
        self.decay = 0.5 ** (seconds / self.half_life_s) if self.half_life_s > 0 else 1.0
        self.max_rise = self.max_rise_per_s * seconds

    def _fit(self, n: int) -> None:
        if n > self.hist.shape[0]:
            cap = max(n, 2 * self.hist.shape[0])
            extra = cap - self.hist.shape[0]
            self.hist = np.vstack([self.hist, np.zeros((extra, self.bins))])
            self.seen = np.concatenate([self.seen, np.zeros(extra)])
            self.level = np.concatenate([self.level, np.zeros(extra)])
            self.inc = np.concatenate([self.inc, np.ones(extra)])
            self.cached_q = np.concatenate([self.cached_q, np.full(extra, np.nan)])
            self.age = np.concatenate([self.age, np.zeros(extra)])
            self._target = np.concatenate([self._target, np.full(extra, np.nan)])

    def _target_of(self, q: F64) -> F64:
        out: F64 = np.maximum(q + self.margin * (1.0 - q), self.floor)
        return out

    def _refresh(self, cols: I64) -> None:
        q = self._exact_quantiles(cols)
        self.cached_q[cols] = q
        self._target[cols] = self._target_of(q)
        self.age[cols] = 0.0

    def _exact_quantiles(self, idx: I64) -> F64:
        return np.array([exact_quantile(self.hist[col], self.quantile) for col in idx.tolist()])

    def quantiles(self, idx: I64) -> F64:
        """The histogram's ``quantile`` per tag column (0 before any data), re-estimated every
        ``REFRESH`` samples of a column (a quantile of thousands of samples moves slowly)."""
        self._fit(int(idx.max()) + 1 if idx.size else 0)
        stale = np.isnan(self.cached_q[idx]) | (self.age[idx] >= self.REFRESH)
        if stale.any():
            self._refresh(idx[stale])
        out: F64 = self.cached_q[idx]
        return out

    def thresholds(self, idx: I64, quantiles: F64 | None = None) -> F64:
        """Current threshold per tag column."""
        q = self.quantiles(idx) if quantiles is None else quantiles
        target = self._target_of(q)
        level = self.level[idx]
        limited = (level > 0) & (self.seen[idx] >= self.warmup)
        out: F64 = np.where(limited, np.minimum(target, level + self.max_rise), target)
        return out

    def decide(self, idx: I64, scores: F64, eligible: npt.NDArray[np.bool_],
               sel: slice | I64 | None = None) -> tuple[F64, npt.NDArray[np.bool_]]:
        """Thresholds of the columns in ``idx`` and which ``eligible`` scores exceed them (on
        warm columns); the other eligible scores are learnt (a threshold must not learn its
        anomalies). Columns in ``idx`` are distinct; ``sel`` selects the same columns (a slice
        when they are contiguous)."""
        if sel is None:
            sel = idx
        self._fit(sel.stop if isinstance(sel, slice) else int(idx.max()) + 1 if idx.size else 0)
        n = idx.shape[0]
        threshold: F64 = np.empty(n)
        voted: npt.NDArray[np.bool_] = np.empty(n, dtype=np.bool_)
        decide(idx, scores, eligible, self.hist, self.seen, self.level, self.inc,
               self.cached_q, self.age, self._target, self.quantile, self.margin, self.floor,
               float(self.warmup), self.max_rise, self.decay, float(self.REFRESH), threshold,
               voted)
        return threshold, voted

    def warm(self, idx: I64) -> npt.NDArray[np.bool_]:
        self._fit(int(idx.max()) + 1 if idx.size else 0)
        out: npt.NDArray[np.bool_] = self.seen[idx] >= self.warmup
        return out

    def observe(self, idx: I64, scores: F64, thresholds: F64 | None = None) -> None:
        """Add one score per tag column (columns in ``idx`` are distinct); ``thresholds`` are
        the ones just used for these columns (computed when not given)."""
        if idx.size == 0:
            return
        self._fit(int(idx.max()) + 1)
        used = self.thresholds(idx) if thresholds is None else thresholds
        for col, score, threshold in zip(idx.tolist(), scores.tolist(), used.tolist(),
                                         strict=True):
            self.observe_one(col, score, threshold)

    def threshold_one(self, col: int) -> float:
        """``thresholds`` of one column, as a float."""
        self._fit(col + 1)
        q = float(self.cached_q[col])
        if math.isnan(q) or self.age[col] >= self.REFRESH:
            self._refresh(np.array([col]))
            q = float(self.cached_q[col])
        target = max(q + self.margin * (1.0 - q), self.floor)
        level = float(self.level[col])
        if level > 0 and self.seen[col] >= self.warmup:
            return min(target, level + self.max_rise)
        return target

    def warm_one(self, col: int) -> bool:
        self._fit(col + 1)
        return bool(self.seen[col] >= self.warmup)

    def observe_one(self, col: int, score: float, threshold: float) -> None:
        """``observe`` of one score of one column with the threshold just used."""
        self._fit(col + 1)
        learn_one(col, score, threshold, self.hist, self.seen, self.level, self.inc, self.age,
                  self.decay)

    def to_arrays(self, prefix: str) -> dict[str, npt.NDArray[Any]]:
        return {f"{prefix}.{name}": getattr(self, name) for name in self.ARRAYS}

    def load_arrays(self, prefix: str, arrays: dict[str, npt.NDArray[Any]]) -> None:
        for name in self.ARRAYS:
            setattr(self, name, arrays[f"{prefix}.{name}"].copy())
        self._target = self._target_of(self.cached_q)
