"""NAB's scoring, reimplemented from its sweeper: scaled-sigmoid window credit, distance-weighted
false-positive cost, probation period, and corpus-wide normalisation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from evaluation.nab_data import NabFile

FloatArray = npt.NDArray[np.float64]
PROFILES: dict[str, tuple[float, float, float]] = {
    # A_TP, A_FP, A_FN
    "standard": (1.0, 0.11, 1.0),
    "reward_low_FP_rate": (1.0, 0.22, 1.0),
    "reward_low_FN_rate": (1.0, 0.11, 2.0),
}


def sigmoid(x: FloatArray) -> FloatArray:
    """NAB's scaled sigmoid ``2/(1+e^{5x}) - 1``, -1 beyond x > 3."""
    out: FloatArray = 2.0 / (1.0 + np.exp(5.0 * np.minimum(x, 3.0))) - 1.0
    out[x > 3.0] = -1.0
    return out


_SIGMA_LEFT = float(sigmoid(np.array([-1.0]))[0])


@dataclass(frozen=True)
class _FileGeometry:
    """Per-row facts about one file that do not depend on the detector."""

    probation: int
    window_of: npt.NDArray[np.int64]  # window index per row, -1 outside windows
    fp_weight: FloatArray  # sigma-based cost factor of an FP at each row (in [-1, 0])
    position_value: FloatArray  # sigma(pos)/sigma(-1) for rows inside windows
    n_windows: int


def _geometry(nab_file: NabFile) -> _FileGeometry:
    n = len(nab_file.values)
    window_of = np.full(n, -1, dtype=np.int64)
    position_value = np.zeros(n)
    fp_weight = np.full(n, -1.0)
    for j, (left, right) in enumerate(nab_file.windows):
        width = right - left + 1
        rows = np.arange(left, right + 1)
        window_of[rows] = j
        position_value[rows] = sigmoid(-(right - rows + 1) / width) / _SIGMA_LEFT
        after = np.arange(right + 1, n)
        if width > 1:
            fp_weight[after] = sigmoid(np.abs(right - after) / (width - 1))
        else:
            fp_weight[after] = sigmoid(np.full(len(after), np.inf))
    return _FileGeometry(nab_file.probation, window_of, fp_weight, position_value,
                         len(nab_file.windows))


@dataclass(frozen=True)
class NabResult:
    profile: str
    threshold: float
    raw: float
    normalised: float
    detected_windows: int
    windows: int
    false_positive_rows: int


class NabScorer:
    """Scores anomaly-score series against the corpus for any threshold and profile."""

    def __init__(self, files: Sequence[NabFile]) -> None:
        self._files = list(files)
        self._geometry = [_geometry(f) for f in self._files]
        self.windows = sum(g.n_windows for g in self._geometry)

    def score(self, scores: Sequence[FloatArray], threshold: float,
              profile: str = "standard") -> NabResult:
        a_tp, a_fp, a_fn = PROFILES[profile]
        raw = 0.0
        detected = fp_rows = 0
        for geometry, series in zip(self._geometry, scores, strict=True):
            hits = np.asarray(series, dtype=np.float64) >= threshold
            hits[: geometry.probation] = False
            in_window = geometry.window_of >= 0
            window_hits = np.nonzero(hits & in_window)[0]
            credited = np.full(geometry.n_windows, -a_fn)
            if len(window_hits):
                ids = geometry.window_of[window_hits]
                first = np.unique(ids, return_index=True)
                rows = window_hits[first[1]]
                credited[first[0]] = np.maximum(-a_fn, geometry.position_value[rows] * a_tp)
                detected += len(first[0])
            raw += float(credited.sum())
            fps = hits & ~in_window
            fp_rows += int(fps.sum())
            raw += float((geometry.fp_weight[fps] * a_fp).sum())
        null, perfect = -PROFILES[profile][2] * self.windows, a_tp * self.windows
        normalised = 100 * (raw - null) / (perfect - null) if self.windows else 0.0
        return NabResult(profile, threshold, raw, normalised, detected, self.windows, fp_rows)

    def optimise(self, scores: Sequence[FloatArray], profile: str = "standard",
                 candidates: int = 400) -> NabResult:
        """NAB's own protocol: the one threshold that maximises the corpus score (tuned on the
        test labels, as every published NAB row is)."""
        pooled = np.concatenate([np.asarray(s, dtype=np.float64) for s in scores])
        levels = np.linspace(0.0, 1.0, candidates)
        # Quantiles of the positive scores too: a detector that scores few rows above zero
        # (fewer than one in ``candidates``) would otherwise offer no threshold between
        # "every row" and "no row".
        positive = pooled[pooled > 0]
        grid = np.unique(np.concatenate([
            np.quantile(pooled, levels),
            np.quantile(positive, levels) if positive.size else [],
            [1.0 + 1e-9]]))
        best = max((self.score(scores, float(t), profile) for t in grid),
                   key=lambda r: (r.raw, -r.threshold))
        return best
