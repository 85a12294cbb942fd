"""The subspace model: how a stream's tags move *together* in normal operation, in level and in
unsteadiness, and which tags break with it.

Trained offline on a stream's normal rows (like the envelope, :mod:`agents.detectors.envelope`):
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

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import onnx
from numpy.lib.stride_tricks import sliding_window_view
from onnx import TensorProto, helper

from agents.detectors.envelope import (
    META_KIND,
    META_PARAMS,
    META_TAGS,
    EnvelopeParams,
    WindowModel,
    check_every_tag_seen,
    check_training_rows,
    frame_means,
)
from agents.errors import ModelError
from agents.features.windows import F64

KIND = "subspace"
INPUT_NAME = "x"
OUTPUT_NAME = "deviation"
ONNX_OPSET = 17
_EPS = 1e-12
#: added to the standardised features' covariance before it is inverted (a feature that
#: another one determines exactly would make it singular)
_RIDGE = 1e-3
#: a feature constant on the training rows is standardised by this share of its level (an
#: instrument's accuracy class, as the baseline's ``accuracy``) ...
FROZEN_ACCURACY = 0.005
#: ... and at least by this, in the tag's unit (a level of 0: an alarm word, a closed valve)
FROZEN_FLOOR = 0.01


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


@dataclass(frozen=True)
class SubspaceFit:
    """A fitted subspace model over ``tags`` (features: their means, then their spreads)."""

    tags: tuple[str, ...]
    centre: F64  # [2T]
    scale: F64  # [2T]
    components: F64  # [2T, k]
    variances: F64  # [k]
    precision: F64  # [2T, 2T]: inverse of the standardised features' covariance (+ ridge)
    t2_limit: float
    spe_limit: float
    params: SubspaceParams


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


def window_features(values: F64, window: int) -> F64:
    """Per row of ``values`` (``rows x tags``), the features over the last ``window`` rows
    (fewer at the start)."""
    t = values.shape[1]
    padded = np.concatenate([np.full((window - 1, t), np.nan), values])
    return frame_features(sliding_window_view(padded, window, axis=0))


def _standardised(fit: SubspaceFit, features: F64) -> F64:
    z = (features - fit.centre) / fit.scale
    out: F64 = np.where(np.isnan(z), 0.0, z)  # no reading: as in training, on average
    return out


def _statistics(fit: SubspaceFit, features: F64) -> tuple[F64, F64, F64]:
    """T², SPE and each feature's contribution: its reconstruction-based contribution to the
    Mahalanobis distance of all features (Alcala and Qin), ``(z Q)_j² / Q_jj`` with ``Q`` the
    training features' (regularised) precision: how far the feature lies from what the
    others say it should be, squared, in its conditional spreads. Unlike contributions to
    T² or to an SPE of few residual directions, it names the tag at fault when one is."""
    z = _standardised(fit, features)
    scores = z @ fit.components
    t2 = (scores * scores / fit.variances).sum(axis=1)
    resid = z - scores @ fit.components.T
    spe = (resid * resid).sum(axis=1)
    conditional = z @ fit.precision
    shares: F64 = conditional * conditional / np.diag(fit.precision)
    return t2, spe, shares


def fit_subspace(values: F64, tags: Sequence[str],
                 params: SubspaceParams | None = None) -> SubspaceFit:
    """Fit on normal rows (``n x len(tags)``, NaN = no good reading)."""
    params = params or SubspaceParams()
    check_training_rows(values, tags, "a subspace model")
    features = window_features(values, params.window_scans)
    check_every_tag_seen(features[:, : len(tags)], tags)  # the means come first
    centre = np.nan_to_num(np.nanmean(features, axis=0))
    sd = np.nan_to_num(np.nanstd(features, axis=0))
    frozen = np.maximum(FROZEN_ACCURACY * np.abs(centre), FROZEN_FLOOR)
    scale = np.where(sd > 0, sd, frozen)
    z = np.nan_to_num((features - centre) / scale)
    _, s, vt = np.linalg.svd(z - z.mean(axis=0), full_matrices=False)
    var = s * s / max(len(z) - 1, 1)
    total = float(var.sum())
    k = int(np.searchsorted(np.cumsum(var) / total, params.variance_kept) + 1) \
        if total > 0 else 1
    k = min(k, len(var))
    cov = np.cov(z, rowvar=False) + _RIDGE * np.eye(z.shape[1])
    precision = np.ascontiguousarray(np.linalg.inv(cov))
    fit = SubspaceFit(tuple(tags), centre.astype(np.float64), scale.astype(np.float64),
                      np.ascontiguousarray(vt[:k].T), np.maximum(var[:k], _EPS), precision,
                      1.0, 1.0, params)
    t2, spe, _ = _statistics(fit, features)
    return SubspaceFit(fit.tags, fit.centre, fit.scale, fit.components, fit.variances,
                       fit.precision, max(float(np.quantile(t2, params.quantile)), _EPS),
                       max(float(np.quantile(spe, params.quantile)), _EPS), params)


def reference_deviations(fit: SubspaceFit, features: F64) -> F64:
    """Per row and tag, the deviation (see the module docstring) in numpy: what the ONNX
    graph computes."""
    t2, spe, shares = _statistics(fit, features)
    ratio = np.maximum(t2 / fit.t2_limit, spe / fit.spe_limit)
    t = len(fit.tags)
    per_tag = shares[:, :t] + shares[:, t:]
    top = np.maximum(per_tag.max(axis=1), _EPS)
    out: F64 = ratio[:, None] * per_tag / top[:, None]
    return out


def export_subspace(fit: SubspaceFit, *, model_name: str = KIND) -> bytes:
    """The ONNX model (serialized bytes) with the tags and parameters in its metadata."""
    t = len(fit.tags)
    k = fit.components.shape[1]
    fold = np.vstack([np.eye(t), np.eye(t)])  # [2T, T]: a tag's two features summed
    d = TensorProto.DOUBLE

    def const(name: str, array: F64) -> onnx.TensorProto:
        return helper.make_tensor(name, d, list(array.shape), array.ravel().tolist())

    inits = [const("centre", fit.centre), const("inv_scale", 1.0 / fit.scale),
             const("precision", fit.precision),
             const("inv_precision_diag", 1.0 / np.diag(fit.precision)),
             const("components", fit.components),
             const("components_t", np.ascontiguousarray(fit.components.T)),
             const("inv_var_col", (1.0 / fit.variances).reshape(k, 1)),
             const("ones_col", np.ones((2 * t, 1))), const("fold", fold),
             const("inv_t2_limit", np.array([1.0 / fit.t2_limit])),
             const("inv_spe_limit", np.array([1.0 / fit.spe_limit])),
             const("zero", np.array([0.0])), const("eps", np.array([_EPS]))]
    nodes = [
        helper.make_node("Sub", [INPUT_NAME, "centre"], ["offset"]),
        helper.make_node("Mul", ["offset", "inv_scale"], ["z_raw"]),
        helper.make_node("IsNaN", ["z_raw"], ["missing"]),
        helper.make_node("Where", ["missing", "zero", "z_raw"], ["z"]),
        helper.make_node("MatMul", ["z", "components"], ["scores"]),
        helper.make_node("Mul", ["scores", "scores"], ["scores_sq"]),
        helper.make_node("MatMul", ["scores_sq", "inv_var_col"], ["t2"]),  # [N, 1]
        helper.make_node("MatMul", ["scores", "components_t"], ["rebuilt"]),
        helper.make_node("Sub", ["z", "rebuilt"], ["resid"]),
        helper.make_node("Mul", ["resid", "resid"], ["resid_sq"]),
        helper.make_node("MatMul", ["resid_sq", "ones_col"], ["spe"]),  # [N, 1]
        helper.make_node("Mul", ["t2", "inv_t2_limit"], ["t2_ratio"]),
        helper.make_node("Mul", ["spe", "inv_spe_limit"], ["spe_ratio"]),
        helper.make_node("Max", ["t2_ratio", "spe_ratio"], ["ratio"]),
        helper.make_node("MatMul", ["z", "precision"], ["conditional"]),
        helper.make_node("Mul", ["conditional", "conditional"], ["conditional_sq"]),
        helper.make_node("Mul", ["conditional_sq", "inv_precision_diag"], ["shares"]),
        helper.make_node("MatMul", ["shares", "fold"], ["per_tag"]),  # [N, T]
        helper.make_node("ReduceMax", ["per_tag"], ["top_raw"], axes=[1], keepdims=1),
        helper.make_node("Max", ["top_raw", "eps"], ["top"]),
        helper.make_node("Div", ["per_tag", "top"], ["relative"]),
        helper.make_node("Mul", ["relative", "ratio"], [OUTPUT_NAME]),
    ]
    graph = helper.make_graph(
        nodes, model_name,
        [helper.make_tensor_value_info(INPUT_NAME, d, [None, 2 * t])],
        [helper.make_tensor_value_info(OUTPUT_NAME, d, [None, t])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)])
    model.ir_version = 8
    helper.set_model_props(model, {META_KIND: KIND, META_TAGS: json.dumps(list(fit.tags)),
                                   META_PARAMS: json.dumps(asdict(fit.params))})
    onnx.checker.check_model(model)
    data: bytes = model.SerializeToString()
    return data


class SubspaceDetector(WindowModel):
    """A loaded subspace model: deviations of a window's means and spreads. Shares the
    envelope's track (:class:`~agents.detectors.envelope_track.EnvelopeTrack`)."""

    kind = KIND
    params_type = SubspaceParams
    params: SubspaceParams
    columns_per_tag = 2

    def features(self, frames: F64) -> F64:
        return frame_features(frames)
