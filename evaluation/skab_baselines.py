"""Plain baselines on SKAB, fitted on the same 400 training rows of each file as the envelope,
scored by the same protocol: at their own limit (the 0.999 quantile of the training rows'
statistic, no label used) and at the false-alarm rate of the envelope, so that detection is
compared at an equal cost in false alarms. The second needs the labels to place the limit
(the rate is counted on the normal test rows), as any comparison at equal FAR does; it is a
yardstick, not a detector one could deploy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from agents.features.windows import F64
from evaluation.baselines import baseline_scores
from evaluation.skab_data import TRAIN_ROWS, SkabFile
from evaluation.skab_scoring import OutlierScore, outlier_score

SCORED = ("max-|z|", "PCA T²/SPE")


@dataclass(frozen=True)
class BaselineAtFar:
    name: str
    own_limit: OutlierScore
    at_far: OutlierScore
    #: the limit that gave ``at_far``, in units of the training quantile
    limit: float


def _test_scores(name: str, f: SkabFile) -> F64:
    out: F64 = baseline_scores(name, f.features[:TRAIN_ROWS], f.features)[TRAIN_ROWS:]
    return out


def baselines_at_far(files: Sequence[SkabFile], far_pct: float) -> list[BaselineAtFar]:
    """Each baseline at its own limit, and with the one limit (over every file) at which its
    false-alarm rate on the normal test rows is ``far_pct`` (or just under)."""
    truths = [f.split(TRAIN_ROWS)[1].anomaly for f in files]
    out = []
    for name in SCORED:
        scores = [_test_scores(name, f) for f in files]
        own = outlier_score(truths, [(s > 1.0).astype(np.float64) for s in scores])
        normal = np.concatenate([s[t == 0] for s, t in zip(scores, truths, strict=True)])
        # the smallest limit with at most far_pct of the normal rows above it
        limit = float(np.quantile(normal, 1.0 - far_pct / 100.0, method="higher"))
        at = outlier_score(truths, [(s > limit).astype(np.float64) for s in scores])
        out.append(BaselineAtFar(name, own, at, limit))
    return out
