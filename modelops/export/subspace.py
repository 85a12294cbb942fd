"""Training and export of the subspace model (:mod:`agents.detectors.subspace`, which loads and
scores it in the worker): the window features standardised on a stream's normal rows (a feature
that never varied there by an instrument's accuracy), PCA, the T²/SPE limits and the
Mahalanobis precision that names the tags; exported to ONNX with its tags and parameters in
the metadata. :func:`reference_deviations` is what the graph computes, in numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import onnx
from numpy.lib.stride_tricks import sliding_window_view
from onnx import TensorProto, helper

from agents.detectors.subspace import (
    INPUT_NAME,
    KIND,
    OUTPUT_NAME,
    SubspaceParams,
    frame_features,
)
from agents.features.windows import F64
from modelops.export.envelope import (
    check_every_tag_seen,
    check_training_rows,
    window_model_bytes,
)

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
    return window_model_bytes(graph, KIND, fit.tags, fit.params)
