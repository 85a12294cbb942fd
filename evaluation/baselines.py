"""Plain baselines fitted on the same training rows as the detectors, scored the same way.

* ``flag-all``: every tag flagged on every row (under honest scoring it detects nothing: its
  alerts stand from the first row on).
* ``max-|z|``: per tag, the z-score against the training rows' mean and standard deviation; a
  tag is flagged when its |z| exceeds the limit, the 0.999 quantile of the training rows'
  largest |z|.
* ``PCA T²/SPE``: the tags standardised on the training rows, principal components explaining
  90 % of their variance; a row is flagged when Hotelling's T² or the squared prediction error
  exceeds its training rows' 0.999 quantile, naming the three tags that contribute most to the
  statistic that crossed.

Missing values count as the training mean; tags constant on the training rows are standardised
with a tiny spread, so any change of them stands out (as it would to these textbook methods).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
QUANTILE = 0.999
VARIANCE_KEPT = 0.90
TOP_TAGS = 3
BASELINES = ("max-|z|", "PCA T²/SPE", "flag-all")


@dataclass(frozen=True)
class BaselineFlags:
    flags: BoolArray
    tags: tuple[tuple[str, ...], ...]


def _standardise(train: F64, values: F64) -> F64:
    mean = np.nanmean(np.where(np.isfinite(train), train, np.nan), axis=0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    std = np.nanstd(np.where(np.isfinite(train), train, np.nan), axis=0)
    std = np.where(np.isfinite(std) & (std > 0), std, 1e-6 * np.maximum(np.abs(mean), 1.0))
    z = (values - mean) / std
    return np.where(np.isfinite(z), z, 0.0)


def _max_abs_z_parts(train: F64, values: F64) -> tuple[F64, float]:
    z = np.abs(_standardise(train, values))
    limit = float(np.quantile(z[: len(train)].max(axis=1), QUANTILE))
    return z, limit


def max_abs_z(tags: list[str], train: F64, values: F64, scale: float = 1.0) -> BaselineFlags:
    """``scale`` multiplies the limit (1.0: the training quantile)."""
    z, limit = _max_abs_z_parts(train, values)
    over = z > limit * scale
    flags: BoolArray = np.asarray(over.any(axis=1), dtype=np.bool_)
    names = tuple(tuple(tags[j] for j in np.flatnonzero(row)) for row in over)
    return BaselineFlags(flags, names)


@dataclass(frozen=True)
class PcaStatistics:
    """PCA T²/SPE of every row, and their limits on the training rows."""

    z: F64
    p: F64
    lam: F64
    scores: F64
    t2: F64
    spe: F64
    resid: F64
    t2_lim: float
    spe_lim: float


def pca_statistics(train: F64, values: F64) -> PcaStatistics:
    z = _standardise(train, values)
    zt = z[: len(train)]
    _, s, vt = np.linalg.svd(zt - zt.mean(axis=0), full_matrices=False)
    var = s ** 2 / max(len(zt) - 1, 1)
    k = int(np.searchsorted(np.cumsum(var) / max(var.sum(), 1e-12), VARIANCE_KEPT) + 1)
    p = vt[:k].T
    lam = np.maximum(var[:k], 1e-12)
    scores = z @ p
    t2 = (scores ** 2 / lam).sum(axis=1)
    resid = z - scores @ p.T
    spe = (resid ** 2).sum(axis=1)
    n_train = len(train)
    return PcaStatistics(z, p, lam, scores, t2, spe, resid,
                         float(np.quantile(t2[:n_train], QUANTILE)),
                         float(np.quantile(spe[:n_train], QUANTILE)))


def pca_t2_spe(tags: list[str], train: F64, values: F64, scale: float = 1.0) -> BaselineFlags:
    """``scale`` multiplies both limits (1.0: the training quantiles)."""
    return pca_flags(pca_statistics(train, values), tags, scale)


def pca_flags(m: PcaStatistics, tags: list[str], scale: float = 1.0) -> BaselineFlags:
    """Rows over either limit times ``scale``, naming the tags that contribute most."""
    t2_lim, spe_lim = m.t2_lim * scale, m.spe_lim * scale
    flags = (m.t2 > t2_lim) | (m.spe > spe_lim)
    names: list[tuple[str, ...]] = []
    for i in range(len(m.z)):
        if not flags[i]:
            names.append(())
            continue
        # SPE: squared residuals; T²: each tag's z_j * sum_a p_ja t_a / lambda_a
        contrib = (m.resid[i] ** 2 if m.spe[i] > spe_lim
                   else np.abs(m.z[i] * (m.p @ (m.scores[i] / m.lam))))
        names.append(tuple(tags[j] for j in np.argsort(-contrib)[:TOP_TAGS]))
    return BaselineFlags(flags, tuple(names))


def baseline_scores(name: str, train: F64, values: F64) -> F64:
    """Per row, how far the baseline's statistic is past its limit: 1.0 at the 0.999 quantile
    of the training rows (a row is flagged above 1), for comparisons at an equal false-alarm
    rate (the limit moved, not the statistic)."""
    if name == "max-|z|":
        z, limit = _max_abs_z_parts(train, values)
        out: F64 = z.max(axis=1) / max(limit, 1e-12)
        return out
    if name == "PCA T²/SPE":
        m = pca_statistics(train, values)
        pca: F64 = np.maximum(m.t2 / max(m.t2_lim, 1e-12), m.spe / max(m.spe_lim, 1e-12))
        return pca
    raise ValueError(f"no row score for baseline {name!r}; use max-|z| or PCA T²/SPE")


def flag_all(tags: list[str], train: F64, values: F64) -> BaselineFlags:
    del train
    return BaselineFlags(np.ones(len(values), dtype=np.bool_),
                         tuple(tuple(tags) for _ in range(len(values))))


def run_baseline(name: str, tags: list[str], train: F64, values: F64) -> BaselineFlags:
    if name == "max-|z|":
        return max_abs_z(tags, train, values)
    if name == "PCA T²/SPE":
        return pca_t2_spe(tags, train, values)
    if name == "flag-all":
        return flag_all(tags, train, values)
    raise ValueError(f"unknown baseline {name!r}; use one of {BASELINES}")
