"""The one contract every detector of a scan stream keeps (after river's ``AnomalyDetector``:
learn and score in one small interface, hyper-parameters in the constructor).

A detector sees each scan of its stream once, in order: :meth:`ScanDetector.vote` learns
from the scan's readings (whatever the detector learns: bands while commissioning, adaptive
thresholds, trees, windows) and judges them, returning one :class:`DetectorResult` per kind
of judgement it makes, each with a score, a threshold and a vote per reading (higher scores
are more anomalous), or nothing when it has nothing to say about the scan. Its learnt state
lives in the stream's snapshot, so a restored stream judges the next scan exactly as the
live one would have. :class:`~agents.stream_state.StreamState` runs every detector the
stream's configuration and deployments call for in one loop and votes over their results;
``tests/unit/test_detector_contract.py`` holds every one of them to the same checks (shape
and range of results, scoring before any learning, a snapshot round trip that changes no
later result, determinism, state that does not grow with time).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from agents.detectors.voting import DetectorResult
from agents.features.reading import ReadingFeatures

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class ScanContext:
    """One scan as every detector sees it: its time, its readings' features (windows just
    updated), and per reading whether it is warm enough (and statistical) to be judged by
    the per-reading statistics, and also valid (``eligible``)."""

    ts: float
    feats: ReadingFeatures
    warm: BoolArray
    eligible: BoolArray


@runtime_checkable
class ScanDetector(Protocol):
    """Learns from and judges the readings of each scan of one stream."""

    name: str

    def vote(self, ctx: ScanContext) -> Sequence[DetectorResult]:
        """The scan's results (empty when the detector has nothing to judge in it)."""
