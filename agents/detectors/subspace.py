"""The subspace model: how a stream's tags move *together* in normal operation, in level and in
unsteadiness, and which tags break with it.

Trained offline (:mod:`modelops.export.subspace`; the worker only loads and scores it) on a
stream's normal rows, like the envelope:
per tag, two window features over the last ``window_scans`` scans, the mean and the standard
deviation (so a tag that starts to oscillate or to jitter moves, not only one that shifts),
standardised on the training rows (a feature that never varied there, such as an alarm word
that stayed 0 or a valve that stayed open, gets the spread of an instrument's accuracy: 0.5 %
of its level and at least :data:`FROZEN_FLOOR` of its unit, so that any real change of it
stands out, as it does to textbook PCA); then the principal components that hold
``variance_kept`` of their variance. Online, per scan, Hotelling's T² (how far along the
normal directions) and the squared prediction error SPE (how far off them: a broken
correlation), each over the ``quantile`` of its training values. The scan's **ratio** is
the larger of the two (1.0: as far as the training rows went once in a hundred). Each tag's
**deviation** is the ratio times its contribution (its two features' reconstruction-based
contributions to the Mahalanobis distance: how far each lies from what the other features
say it should be) over the largest tag's: the tag that contributes most carries the whole
ratio, the others their part of it. The alarm rule is the envelope's
(:class:`EnvelopeTrack`): a tag is flagged when its deviation passes
``max(alarm_level, peak_share * peak)``, the peak carrying at most ``peak_cap`` alarm levels
over from earlier scans (the ratio is a squared distance, without bound: a fault code of
1201 where training saw 0 would otherwise silence the model for weeks).

The ONNX graph (float64 ``x [N, 2T]``: the T means, then the T standard deviations ->
``deviation [N, T]``) carries the tags and the parameters in its metadata, like the envelope.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.detectors.envelope import (
    EnvelopeParams,
    WindowModel,
    frame_means,
)
from agents.errors import ModelError
from agents.features.windows import F64

KIND = "subspace"
INPUT_NAME = "x"
OUTPUT_NAME = "deviation"
ONNX_OPSET = 17
_EPS = 1e-12


@dataclass(frozen=True)
class SubspaceParams(EnvelopeParams):
    """The envelope's window and alarm rule, with the subspace's own level (its ratio is a
    squared distance: far larger than a deviation of one tag), the variance its components
    keep and the training quantile of its limits (defaults: see ``agents/README.md``)."""

    alarm_level: float = 10.0
    peak_cap: float | None = 50.0
    variance_kept: float = 0.9
    quantile: float = 0.99

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.variance_kept <= 1:
            raise ModelError(f"subspace variance_kept must be in (0, 1], got "
                             f"{self.variance_kept}")
        if not 0.5 <= self.quantile < 1:
            raise ModelError(f"subspace quantile must be in [0.5, 1), got {self.quantile}")


def frame_stds(frames: F64) -> F64:
    """Standard deviations over the last axis of ``rows x tags x window`` frames, ignoring
    NaN (0 for one value, NaN for none); computed like :func:`frame_means`, training and
    online alike."""
    means = frame_means(frames)
    squares = frame_means(frames * frames)
    out: F64 = np.sqrt(np.maximum(squares - means * means, 0.0))
    return out


def frame_features(frames: F64) -> F64:
    """The model's input for ``rows x tags x window`` frames: the means, then the spreads."""
    return np.concatenate([frame_means(frames), frame_stds(frames)], axis=1)


class SubspaceDetector(WindowModel):
    """A loaded subspace model: deviations of a window's means and spreads. Shares the
    envelope's track (:class:`~agents.detectors.envelope_track.EnvelopeTrack`)."""

    kind = KIND
    params_type = SubspaceParams
    params: SubspaceParams
    columns_per_tag = 2

    def features(self, frames: F64) -> F64:
        return frame_features(frames)
