"""Per-reading features: the published per-tag features and the model inputs.

The model inputs are scale-free (z-scores, ratios, noise-normalised jumps and trends) so that one
model serves every tag. Offline training computes them with :func:`model_rows` over a recorded
stream, exactly as the agent does online.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from agents.features.window_kernels import model_inputs
from agents.features.windows import F64, Aggregates, Step, TagWindows

#: Model input columns, in order. A deployed model must list exactly these features.
MODEL_FEATURES: tuple[str, ...] = (
    "z_value", "z_mean_short", "log_std_ratio", "jump_norm", "drift_t", "bad_share_mid",
)
#: How far each model input is from normal relative to the others (its 99.9 % quantile on white
#: noise is about 2-3 after weighting); used by the z-score detector and for explanations.
FEATURE_WEIGHTS: tuple[float, ...] = (1.0, 4.0, 1.0, 0.5, 4.0, 1.0)
CLIP = 50.0
_MID = 1  # the windows: short (0), mid (1: trends), long (2: the baseline)


@dataclass(frozen=True)
class ReadingFeatures:
    """Features of the readings of one scan (one row per reading, in scan order)."""

    step: Step
    agg: Aggregates
    since_change_s: F64
    ewma: F64
    z_value: F64
    model_x: F64  # (n_readings, len(MODEL_FEATURES)), float32-safe
    scale: F64


def _window_label(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def compute(windows: TagWindows, ts: float, step: Step) -> ReadingFeatures:
    """Features of the readings just added by ``windows.update`` (which returned ``step``)."""
    idx = step.idx
    agg = windows.aggregates(idx)
    n = idx.shape[0]
    x = np.empty((n, len(MODEL_FEATURES)))
    scale = np.empty(n)
    # the noise not yet moved by this sample: a spike must not hide itself
    model_inputs(step.value, step.valid, step.jump, step.noise_before, agg.mean, agg.std,
                 agg.slope_per_s, agg.bad_share, float(windows.windows_s[_MID]), CLIP, x,
                 scale)
    return ReadingFeatures(
        step=step, agg=agg, since_change_s=windows.since_change_s(ts, idx),
        ewma=windows.ewma[idx], z_value=x[:, 0].copy(), model_x=x, scale=scale)


def published(windows: TagWindows, feats: ReadingFeatures, i: int) -> dict[str, float]:
    """The features of reading ``i`` as published in ``FeaturesComputed`` (finite values only)."""
    return published_all(windows, feats)[i]


def published_all(windows: TagWindows, feats: ReadingFeatures) -> list[dict[str, float]]:
    """:func:`published` for every reading of the scan, in scan order."""
    agg = windows.aggregates(feats.step.idx, extremes=True)
    per_window = []
    for w, seconds in enumerate(windows.windows_s):
        label = _window_label(seconds)
        names = [f"{stat}_{label}" for stat in ("mean", "std", "min", "max", "slope_per_h",
                                                 "bad_share")]
        columns = np.stack([agg.mean[w], agg.std[w], agg.minimum[w], agg.maximum[w],
                            agg.slope_per_s[w] * 3600.0, agg.bad_share[w]], axis=1)
        per_window.append((names, (agg.count[w] > 0).tolist(), columns.tolist()))
    extra_names = ["ewma", "z", "roc_per_s", "since_change_s",
                   *(f"x_{name}" for name in MODEL_FEATURES)]
    extra = np.concatenate([np.stack([feats.ewma, feats.z_value, feats.step.roc_per_s,
                                      feats.since_change_s], axis=1), feats.model_x],
                           axis=1).tolist()
    found: list[dict[str, float]] = []
    for i, row in enumerate(extra):
        out: dict[str, float] = {}
        for names, counted, columns in per_window:
            if counted[i]:
                out.update(zip(names, columns[i], strict=True))
        out.update(zip(extra_names, row, strict=True))
        found.append({k: v for k, v in out.items() if math.isfinite(v)})
    return found


def numeric(value: object) -> float:
    """A reading's value as a float; NaN when it is missing or not a number."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    return float("nan")


def model_rows(samples: list[tuple[float, dict[str, float]]]) -> F64:
    """Model input rows for a recorded stream of ``(event time, {tag: value})`` samples.

    This is the offline path used for training: the same windows and features as online.
    """
    windows = TagWindows()
    rows: list[F64] = []
    for ts, values in samples:
        tags = list(values)
        idx = windows.slots(tags)
        vals = np.array([values[t] for t in tags], dtype=np.float64)
        step = windows.update(ts, idx, vals, np.ones(len(tags), dtype=np.bool_))
        rows.append(compute(windows, ts, step).model_x)
    return np.concatenate(rows) if rows else np.zeros((0, len(MODEL_FEATURES)))
