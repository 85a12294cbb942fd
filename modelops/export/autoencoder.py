"""A small autoencoder over the model inputs, trained with scikit-learn and exported to ONNX.

The graph standardises the row, runs the MLP (ReLU hidden layers, identity output), and turns
the mean squared reconstruction error into a score in [0, 1): ``1 - exp(-mse / scale)``, where
``scale`` is the 99th percentile of the training error (so 99 % of normal rows score below
``1 - 1/e``, about 0.63, and a badly reconstructed row approaches 1). :func:`reference_scores`
computes the same in numpy.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor

from agents.errors import ModelError
from agents.features.reading import MODEL_FEATURES
from agents.features.windows import F64
from modelops.export.iforest import INPUT_NAME, OUTPUT_NAME

#: ReduceMean takes its axes as an input from opset 18.
OPSET = 18


@dataclass(frozen=True)
class Autoencoder:
    """A fitted autoencoder with its input standardisation and error scale."""

    mlp: MLPRegressor
    mean: F64
    std: F64
    scale: float


def train_autoencoder(rows: F64, *, hidden: tuple[int, ...] = (8, 3, 8), seed: int = 0,
                      max_iter: int = 300) -> Autoencoder:
    """Fit on rows of normal operation (``n x len(MODEL_FEATURES)``)."""
    if rows.ndim != 2 or rows.shape[1] != len(MODEL_FEATURES):
        raise ModelError(f"training rows must be n x {len(MODEL_FEATURES)}, got {rows.shape}")
    mean = rows.mean(axis=0)
    std = np.where(rows.std(axis=0) > 1e-9, rows.std(axis=0), 1.0)
    xs = (rows - mean) / std
    mlp = MLPRegressor(hidden_layer_sizes=hidden, activation="relu", random_state=seed,
                       max_iter=max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(xs, xs)
    mse = ((xs - mlp.predict(xs)) ** 2).mean(axis=1)
    return Autoencoder(mlp=mlp, mean=mean, std=std,
                       scale=float(max(np.percentile(mse, 99), 1e-9)))


def reference_scores(model: Autoencoder, rows: F64) -> F64:
    """The exported graph's scores, computed with scikit-learn and numpy."""
    xs = (rows - model.mean) / model.std
    mse = ((xs - model.mlp.predict(xs)) ** 2).mean(axis=1)
    out: F64 = 1.0 - np.exp(-mse / model.scale)
    return out


def export_autoencoder(model: Autoencoder, *, model_name: str = "autoencoder") -> bytes:
    """Serialized ONNX: float32 ``x [N, D]`` -> ``score [N, 1]``."""
    f32 = np.float32
    inits = [numpy_helper.from_array(model.mean.astype(f32), "mean"),
             numpy_helper.from_array(model.std.astype(f32), "std"),
             numpy_helper.from_array(np.array(1.0 / model.scale, dtype=f32), "inv_scale"),
             numpy_helper.from_array(np.array(1.0, dtype=f32), "one"),
             numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1")]
    nodes = [helper.make_node("Sub", [INPUT_NAME, "mean"], ["centred"]),
             helper.make_node("Div", ["centred", "std"], ["xs"])]
    layer_in = "xs"
    n_layers = len(model.mlp.coefs_)
    for i, (w, b) in enumerate(zip(model.mlp.coefs_, model.mlp.intercepts_, strict=True)):
        inits += [numpy_helper.from_array(w.astype(f32), f"w{i}"),
                  numpy_helper.from_array(b.astype(f32), f"b{i}")]
        nodes += [helper.make_node("MatMul", [layer_in, f"w{i}"], [f"mm{i}"]),
                  helper.make_node("Add", [f"mm{i}", f"b{i}"], [f"z{i}"])]
        if i < n_layers - 1:
            nodes.append(helper.make_node("Relu", [f"z{i}"], [f"h{i}"]))
            layer_in = f"h{i}"
    recon = f"z{n_layers - 1}"
    nodes += [helper.make_node("Sub", ["xs", recon], ["diff"]),
              helper.make_node("Mul", ["diff", "diff"], ["sq"]),
              helper.make_node("ReduceMean", ["sq", "axis1"], ["mse"], keepdims=1),
              helper.make_node("Mul", ["mse", "inv_scale"], ["ratio"]),
              helper.make_node("Neg", ["ratio"], ["neg_ratio"]),
              helper.make_node("Exp", ["neg_ratio"], ["kept"]),
              helper.make_node("Sub", ["one", "kept"], [OUTPUT_NAME])]
    d = len(model.mean)
    graph = helper.make_graph(
        nodes, model_name,
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [None, d])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [None, 1])],
        initializer=inits)
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    onnx_model.ir_version = 8
    onnx.checker.check_model(onnx_model)
    data: bytes = onnx_model.SerializeToString()
    return data
