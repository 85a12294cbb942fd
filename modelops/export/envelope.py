"""Training and export of the operating-envelope model (:mod:`agents.detectors.envelope`, which
loads and scores it in the worker): fitted on a stream's normal rows, exported to ONNX with its
tags and parameters in the metadata; :func:`reference_deviations` is what the graph computes,
in numpy (for parity checks and offline replays).
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
    INPUT_NAME,
    KIND,
    META_KIND,
    META_PARAMS,
    META_TAGS,
    ONNX_OPSET,
    OUTPUT_NAME,
    EnvelopeParams,
    frame_means,
)
from agents.errors import ModelError
from agents.features.windows import F64, BoolArray

#: the training quantile of the largest standardised deviation (``q99``)
QUANTILE = 0.99
MIN_TRAINING_ROWS = 20


@dataclass(frozen=True)
class EnvelopeFit:
    """A fitted envelope: tags in input order, their centre and their deviation scale."""

    tags: tuple[str, ...]
    centre: F64
    scale: F64  # sd * q99 per tag
    params: EnvelopeParams


def rolling_means(values: F64, window: int) -> F64:
    """Per row, the mean of each column over the last ``window`` rows (fewer at the start),
    ignoring NaN (a missing or bad reading); NaN where the window holds no value."""
    t = values.shape[1]
    padded = np.concatenate([np.full((window - 1, t), np.nan), values])
    return frame_means(sliding_window_view(padded, window, axis=0))


def check_training_rows(values: F64, tags: Sequence[str], what: str) -> None:
    """:class:`ModelError` unless ``values`` are at least :data:`MIN_TRAINING_ROWS` rows of
    one column per tag (for a window model, ``what`` it is)."""
    if values.ndim != 2 or values.shape[1] != len(tags) or not tags:
        raise ModelError(f"training rows must be n x {len(tags)} (one column per tag), "
                         f"got {values.shape}")
    if len(values) < MIN_TRAINING_ROWS:
        raise ModelError(f"{len(values)} training rows are too few for {what} (need "
                         f"{MIN_TRAINING_ROWS})")


def check_every_tag_seen(means: F64, tags: Sequence[str]) -> None:
    """:class:`ModelError` naming the tags whose rolling means are never a number."""
    seen: BoolArray = np.asarray(np.isfinite(means).any(axis=0))
    if not seen.all():
        missing = [tag for tag, ok in zip(tags, seen, strict=True) if not ok]
        raise ModelError(f"no good reading of {missing} in the training rows")


def fit_envelope(values: F64, tags: Sequence[str],
                 params: EnvelopeParams | None = None) -> EnvelopeFit:
    """Fit on normal rows (``n x len(tags)``, NaN = no good reading)."""
    params = params or EnvelopeParams()
    check_training_rows(values, tags, "an envelope")
    means = rolling_means(values, params.window_scans)
    check_every_tag_seen(means, tags)
    centre = np.nanmean(means, axis=0)
    sd = np.nanstd(means, axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    worst = np.nanmax(np.abs(means - centre) / sd, axis=1)
    q99 = float(np.quantile(worst[np.isfinite(worst)], QUANTILE))
    scale = sd * (q99 if q99 > 0 else 1.0)
    return EnvelopeFit(tuple(tags), centre.astype(np.float64), scale.astype(np.float64), params)


def reference_deviations(fit: EnvelopeFit, means: F64) -> F64:
    """The deviations computed in numpy (what the ONNX graph computes); 0 where NaN."""
    out: F64 = np.nan_to_num(np.abs(means - fit.centre) / fit.scale, nan=0.0)
    return out


def export_envelope(fit: EnvelopeFit, *, model_name: str = KIND) -> bytes:
    """The ONNX model (serialized bytes) with the tags and parameters in its metadata."""
    t = len(fit.tags)
    # in double precision: a tag's level can be large against its spread (a CHP's 480 kW
    # against a 1 kW rolling-mean spread), where float32 inputs alone cost 1e-5 of deviation
    inits = [helper.make_tensor("centre", TensorProto.DOUBLE, [t], fit.centre.tolist()),
             helper.make_tensor("inv_scale", TensorProto.DOUBLE, [t],
                                (1.0 / fit.scale).tolist())]
    graph = helper.make_graph(
        [helper.make_node("Sub", [INPUT_NAME, "centre"], ["offset"]),
         helper.make_node("Abs", ["offset"], ["distance"]),
         helper.make_node("Mul", ["distance", "inv_scale"], [OUTPUT_NAME])],
        model_name,
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.DOUBLE, [None, t])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.DOUBLE, [None, t])],
        initializer=inits)
    return window_model_bytes(graph, KIND, fit.tags, fit.params)


def window_model_bytes(graph: onnx.GraphProto, kind: str, tags: Sequence[str],
                       params: EnvelopeParams) -> bytes:
    """A window model's graph as a checked ONNX model (serialized) whose metadata carries its
    kind, tags and parameters: all the worker needs to load it."""
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)])
    model.ir_version = 8
    helper.set_model_props(model, {META_KIND: kind, META_TAGS: json.dumps(list(tags)),
                                   META_PARAMS: json.dumps(asdict(params))})
    onnx.checker.check_model(model)
    data: bytes = model.SerializeToString()
    return data
