"""The per-sample scorer protocol of the models a detector wraps (the z-score family, a
deployed IsolationForest or autoencoder): learn from and score one sample of the model
features; higher scores are more anomalous. The contract every detector of a stream keeps
is :class:`agents.detectors.contract.ScanDetector` (a scorer becomes one behind per-tag
adaptive thresholds, :mod:`agents.stream_detectors`).

Every scorer also scores a batch of rows (one row per reading, columns
:data:`agents.features.reading.MODEL_FEATURES`) so the agent pays numpy's per-call cost once
per scan, not once per reading. ``score_one`` of a mapping equals the batch score of that row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import numpy as np

from agents.features.reading import FEATURE_WEIGHTS, MODEL_FEATURES
from agents.features.windows import F64


@runtime_checkable
class Detector(Protocol):
    """An anomaly detector on one sample of named features; scores lie in [0, 1]."""

    name: str

    def learn_one(self, x: Mapping[str, float]) -> None:
        """Update the detector with one (presumed normal) sample."""

    def score_one(self, x: Mapping[str, float]) -> float:
        """Anomaly score of one sample; higher is more anomalous."""


@runtime_checkable
class RowDetector(Detector, Protocol):
    """A detector that also scores rows of the model features in one call."""

    def score_rows(self, rows: F64) -> F64:
        """One score per row of ``rows`` (``n x len(MODEL_FEATURES)``)."""


def as_row(x: Mapping[str, float]) -> F64:
    """One sample of named model features as a ``1 x len(MODEL_FEATURES)`` row (missing = 0)."""
    return np.array([[float(x.get(name, 0.0)) for name in MODEL_FEATURES]], dtype=np.float64)


class ZScoreDetector:
    """Deviation from the tag's own recent behaviour: level, jump and trend, noise-normalised.

    ``m = max(|z_value|, 4 |z_mean_short|, |jump_norm| / 2, 4 |drift_t|)``, score ``m / (m + 3)``.
    The weights bring each term's 99.9 % quantile on white noise to about 2-3. Stateless: the
    windows hold the history; the per-tag adaptive thresholds absorb each tag's own spread.
    """

    name = "zscore"

    def __init__(self) -> None:
        self._cols = [MODEL_FEATURES.index(c) for c in
                      ("z_value", "z_mean_short", "jump_norm", "drift_t")]
        self._weights = np.array([FEATURE_WEIGHTS[c] for c in self._cols])

    def learn_one(self, x: Mapping[str, float]) -> None:
        """Nothing to learn: the rolling windows are the model."""

    def score_one(self, x: Mapping[str, float]) -> float:
        return float(self.score_rows(as_row(x))[0])

    def score_rows(self, rows: F64) -> F64:
        m = (np.abs(rows[:, self._cols]) * self._weights).max(axis=1)
        out: F64 = m / (m + 3.0)
        return out
