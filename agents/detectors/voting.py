"""The ensemble vote over one scan's readings.

* A violated rule (range, rate, stuck, quality) makes its reading anomalous on its own, and so
  does a reading flagged by a model that votes alone (the envelope: its level is calibrated on
  its training rows).
* The statistical detectors (``zscore``, ``iforest`` when a model is loaded, ``hst`` for the
  tags that drive the scan's HST score) each vote when their score exceeds their tag's adaptive
  threshold, and only once the tag is warm. A reading is anomalous when at least
  ``min(min_votes, available detectors)`` of them vote, or when one of them is far past its
  threshold: ``score >= threshold + strong * (1 - threshold)``.

The anomaly's score is the largest ``score / threshold`` among the detectors that voted for its
top tag, so it is above 1.0 exactly when a threshold was crossed; its threshold is 1.0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
import numpy.typing as npt

from agents.detectors.vote_kernels import vote as vote_kernel
from agents.features.windows import F64

BoolArray = npt.NDArray[np.bool_]
RULE_SCORE, RULE_THRESHOLD = 1.0, 0.5
#: read-only rule thresholds by scan length (shared: a scan's results are never written to)
_RULE_THRESHOLDS: dict[int, F64] = {}


def decision_thresholds(n: int) -> F64:
    """The threshold (0.5) of the ``n`` readings of a scan for the detectors that decide
    themselves (rules, the baseline and process checks): one read-only array per scan length,
    shared, since a scan's results are never written to."""
    threshold = _RULE_THRESHOLDS.get(n)
    if threshold is None:
        threshold = _RULE_THRESHOLDS[n] = np.full(n, RULE_THRESHOLD)
        threshold.flags.writeable = False
    return threshold


@dataclass(frozen=True)
class DetectorResult:
    """One detector's scores, thresholds and votes for the readings of a scan."""

    name: str
    score: F64
    threshold: F64
    voted: BoolArray
    is_rule: bool = False
    #: votes alone like a rule (a model calibrated offline, e.g. the envelope)
    alone: bool = False
    #: the detector's own measure per reading, for explanations (the envelope's deviation),
    #: named ``<tag>:<detector>.<measure_name>``
    measure: F64 | None = None
    measure_name: str = "deviation"
    #: per reading, the name of the measure that decided it (the baseline's check), used
    #: instead of ``measure_name`` when given
    labels: tuple[str, ...] | None = None

    @classmethod
    def rule(cls, name: str, violated: BoolArray) -> DetectorResult:
        return cls(name=name, score=cast(F64, violated * RULE_SCORE),
                   threshold=decision_thresholds(violated.shape[0]), voted=violated,
                   is_rule=True)


@dataclass(frozen=True)
class Verdict:
    """The vote's outcome per reading."""

    anomalous: BoolArray
    strength: F64  # max score/threshold over the detectors that voted (0 when none)
    results: tuple[DetectorResult, ...]


def vote(results: list[DetectorResult], min_votes: int, strong: float = 0.5) -> Verdict:
    """Combine detector results (all of the same length) into a verdict per reading."""
    if not results:
        empty = np.zeros(0, dtype=np.bool_)
        return Verdict(anomalous=empty, strength=np.zeros(0), results=())
    score = np.array([r.score for r in results])
    threshold = np.array([r.threshold for r in results])
    voted = np.array([r.voted for r in results])
    alone = np.array([r.is_rule or r.alone for r in results])
    n = score.shape[1]
    anomalous: BoolArray = np.empty(n, dtype=np.bool_)
    strength: F64 = np.empty(n)
    vote_kernel(score, threshold, voted, alone, min_votes, strong, anomalous, strength)
    return Verdict(anomalous=anomalous, strength=strength, results=tuple(results))
