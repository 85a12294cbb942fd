"""Per-reading features: the published per-tag features and the model inputs.

The model inputs are scale-free (z-scores, ratios, noise-normalised jumps and trends) so that one
model serves every tag. Offline training computes them with :func:`model_rows` over a recorded
stream, exactly as the agent does online.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.features.windows import F64, Aggregates, Step, TagWindows

#: Model input columns, in order. A deployed model must list exactly these features.
MODEL_FEATURES: tuple[str, ...] = (
    "z_value", "z_mean_short", "log_std_ratio", "jump_norm", "drift_t", "bad_share_mid",
)
#: How far each model input is from normal relative to the others (its 99.9 % quantile on white
#: noise is about 2-3 after weighting); used by the z-score detector and for explanations.
FEATURE_WEIGHTS: tuple[float, ...] = (1.0, 4.0, 1.0, 0.5, 4.0, 1.0)
CLIP = 50.0
_SHORT, _MID, _LONG = 0, 1, 2


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
    noise = step.noise_before  # not yet moved by this sample: a spike must not hide itself
    mean_l, std_l = agg.mean[_LONG], agg.std[_LONG]
    eps = 1e-6 * (_finite(np.abs(mean_l)) + 1.0)
    scale = np.fmax(np.fmax(std_l, noise), eps)
    value = step.value
    with np.errstate(invalid="ignore", divide="ignore"):
        z_value = np.where(step.valid, (value - mean_l) / scale, 0.0)
        z_short = (agg.mean[_SHORT] - mean_l) / scale
        log_ratio = np.log((agg.std[_SHORT] + eps) / (std_l + eps))
        jump = step.jump / np.fmax(step.noise_before, eps)
        drift = agg.slope_per_s[_MID] * windows.windows_s[_MID] / np.fmax(noise, eps)
    x = np.stack([z_value, z_short, log_ratio, jump, drift, agg.bad_share[_MID]], axis=1)
    x = np.clip(_finite(x), -CLIP, CLIP)
    return ReadingFeatures(
        step=step, agg=agg, since_change_s=windows.since_change_s(ts, idx),
        ewma=windows.ewma[idx], z_value=x[:, 0].copy(), model_x=x, scale=scale)


def published(windows: TagWindows, feats: ReadingFeatures, i: int) -> dict[str, float]:
    """The features of reading ``i`` as published in ``FeaturesComputed`` (finite values only)."""
    out: dict[str, float] = {}
    agg = windows.aggregates(feats.step.idx[i:i + 1], extremes=True)
    for w, seconds in enumerate(windows.windows_s):
        label = _window_label(seconds)
        if agg.count[w, 0] <= 0:
            continue
        out[f"mean_{label}"] = float(agg.mean[w, 0])
        out[f"std_{label}"] = float(agg.std[w, 0])
        out[f"min_{label}"] = float(agg.minimum[w, 0])
        out[f"max_{label}"] = float(agg.maximum[w, 0])
        out[f"slope_per_h_{label}"] = float(agg.slope_per_s[w, 0] * 3600.0)
        out[f"bad_share_{label}"] = float(agg.bad_share[w, 0])
    extra = {
        "ewma": feats.ewma[i], "z": feats.z_value[i],
        "roc_per_s": feats.step.roc_per_s[i], "since_change_s": feats.since_change_s[i],
    }
    for name, value in extra.items():
        out[name] = float(value)
    for j, name in enumerate(MODEL_FEATURES):
        out[f"x_{name}"] = float(feats.model_x[i, j])
    return {k: v for k, v in out.items() if np.isfinite(v)}


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


def _finite(a: F64) -> F64:
    """NaN as 0; infinities are left for the caller's clip."""
    out: F64 = np.where(np.isnan(a), 0.0, a)
    return out
