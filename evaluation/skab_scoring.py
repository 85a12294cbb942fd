"""SKAB's scoring, exactly as its current leaderboard computes it.

Outlier task: point-wise F1/FAR/MAR pooled over the test parts of all files. Changepoint task:
SKAB's NAB-like score with 60 s "righter" windows, "cut right window" intersections, the
"improved" tanh scoring curve, flat FP penalty, and pooled normalisation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
PROFILES: dict[str, tuple[float, float, float]] = {
    # A_tp, A_fp, A_fn
    "Standard": (1.0, -0.11, -1.0),
    "LowFP": (1.0, -0.22, -1.0),
    "LowFN": (1.0, -0.11, -2.0),
}
_CURVE_POINTS = 1000


@dataclass(frozen=True)
class OutlierScore:
    f1: float
    far: float
    mar: float


def outlier_score(truths: Sequence[npt.NDArray[np.generic]],
                  predictions: Sequence[FloatArray]) -> OutlierScore:
    """Pooled point-wise scores; a prediction counts as an alarm only where it equals 1."""
    tp = tn = fp = fn = 0
    for truth, pred in zip(truths, predictions, strict=True):
        t = np.asarray(truth) == 1
        p = np.asarray(pred) == 1
        tp += int(np.sum(t & p))
        tn += int(np.sum(~t & ~p))
        fp += int(np.sum(~t & p))
        fn += int(np.sum(t & ~p))
    f1 = tp / (tp + (fp + fn) / 2) if tp + fp + fn else 1.0
    far = 100 * fp / (fp + tn) if fp + tn else 0.0
    mar = 100 * fn / (fn + tp) if fn + tp else 0.0
    return OutlierScore(round(f1, 2), round(far, 2), round(mar, 2))


def rolling(values: FloatArray, window: int, how: str) -> FloatArray:
    """pandas ``Series.rolling(window).<how>()`` with its default ``min_periods=window``: NaN
    until a full window of non-NaN values is available."""
    out = np.full(len(values), np.nan)
    if len(values) < window:
        return out
    view = np.lib.stride_tricks.sliding_window_view(values, window)
    full = ~np.isnan(view).any(axis=1)
    reduced = np.full(view.shape[0], np.nan)
    if full.any():
        rows = view[full]
        if how == "max":
            reduced[full] = rows.max(axis=1)
        elif how == "median":
            reduced[full] = np.median(rows, axis=1)
        elif how == "mean":
            reduced[full] = rows.mean(axis=1)
        else:
            raise ValueError(f"unknown rolling reduction {how!r}; use max, median or mean")
    out[window - 1:] = reduced
    return out


def changepoint_events(prediction: FloatArray, dilation: int | None = None) -> FloatArray:
    """Change events from a binary outlier prediction: rising and falling edges.

    ``cp = |diff(p)|`` with ``cp[0] = p[0]``; with ``dilation`` (Isolation Forest's 30) the edges
    are taken from ``p.rolling(dilation).max()`` with the incomplete leading windows filled with 0
    (this reproduces the published Isolation Forest row exactly). Other NaN never is an event.
    """
    p = np.asarray(prediction, dtype=np.float64)
    if dilation is not None:
        p = np.nan_to_num(rolling(p, dilation, "max"), nan=0.0)
    cp = np.empty_like(p)
    if len(p):
        cp[0] = p[0]
        cp[1:] = np.abs(np.diff(p))
    return cp


@dataclass(frozen=True)
class ChangepointScore:
    standard: float
    low_fp: float
    low_fn: float
    windows: int
    missed: int
    false_positives: int


def _windows(times: npt.NDArray[np.int64], changepoints: npt.NDArray[np.generic],
             width_s: int) -> list[list[float]]:
    starts = times[np.asarray(changepoints) == 1].astype(np.float64)
    bounds = [[float(c), float(c) + width_s] for c in starts]
    for i in range(len(bounds) - 1):
        if bounds[i][1] >= bounds[i + 1][0]:
            bounds[i + 1][0] = bounds[i][1]
    return bounds


def _curve(a_tp: float, a_fp: float) -> FloatArray:
    x = np.linspace(-math.pi / 2, math.pi / 2, _CURVE_POINTS)
    half = (a_tp - a_fp) / 2
    curve: FloatArray = half * -np.tanh(x) / math.tanh(math.pi / 2) + half + a_fp
    return curve


def changepoint_score(times: Sequence[npt.NDArray[np.int64]],
                      changepoints: Sequence[npt.NDArray[np.generic]],
                      events: Sequence[FloatArray], width_s: int = 60) -> ChangepointScore:
    """SKAB's NAB-like score pooled over files (``events`` from :func:`changepoint_events`)."""
    raw = dict.fromkeys(PROFILES, 0.0)
    n_windows = missed = n_fp = 0
    curves = {name: _curve(a_tp, a_fp) for name, (a_tp, a_fp, _) in PROFILES.items()}
    for t, cps, ev in zip(times, changepoints, events, strict=True):
        bounds = _windows(t, cps, width_s)
        detected = t[np.asarray(ev) == 1].astype(np.float64)
        n_windows += len(bounds)
        inside = np.zeros(len(detected), dtype=bool)
        for left, right in bounds:
            in_window = (detected >= left) & (detected <= right)
            inside |= in_window
            hits = detected[in_window]
            if len(hits) == 0:
                missed += 1
                for name, (_, _, a_fn) in PROFILES.items():
                    raw[name] += a_fn
                continue
            first = float(hits.min())
            position = int((first - left) / (right - left) * _CURVE_POINTS) if right > left \
                else 0
            position = min(position, _CURVE_POINTS - 1)
            for name in PROFILES:
                raw[name] += float(curves[name][position])
        fps = int(np.sum(~inside))
        n_fp += fps
        for name, (_, a_fp, _) in PROFILES.items():
            raw[name] += a_fp * fps

    def normalised(name: str) -> float:
        a_tp, _, a_fn = PROFILES[name]
        null, perfect = n_windows * a_fn, n_windows * a_tp
        return round(100 * (raw[name] - null) / (perfect - null), 2) if n_windows else 0.0

    return ChangepointScore(normalised("Standard"), normalised("LowFP"), normalised("LowFN"),
                            n_windows, missed, n_fp)
