"""A compact ONNX graph for a fitted scikit-learn IsolationForest.

The stock converter emits about 2,700 nodes (per-tree path arithmetic). Here the whole forest is
one ``ai.onnx.ml.TreeEnsembleRegressor`` whose leaves hold each leaf's path-length contribution
(``depth + c(n_leaf) - 1``, exactly as ``IsolationForest._compute_score_samples`` adds them), so
the ensemble's SUM is sklearn's total depth; three nodes then turn it into the anomaly score
``2 ** (-depth / (n_trees * c(max_samples)))``, which is ``-score_samples``.

sklearn compares float32 inputs with float64 thresholds (``x <= t``); the graph stores the
largest float32 not above each threshold, which decides every float32 input identically.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper
from sklearn.ensemble import IsolationForest
from sklearn.ensemble._iforest import _average_path_length

from agents.errors import ModelError
from agents.features.reading import MODEL_FEATURES
from agents.features.windows import F64

INPUT_NAME = "x"
OUTPUT_NAME = "score"
ML_OPSET = 3
ONNX_OPSET = 17


def train_iforest(rows: F64, *, n_estimators: int = 100, max_samples: int = 256,
                  seed: int = 0) -> IsolationForest:
    """Fit an IsolationForest on rows of :data:`MODEL_FEATURES` (normal operation)."""
    if rows.ndim != 2 or rows.shape[1] != len(MODEL_FEATURES):
        raise ModelError(f"training rows must be n x {len(MODEL_FEATURES)}, got {rows.shape}")
    model = IsolationForest(n_estimators=n_estimators, max_samples=min(max_samples, len(rows)),
                            random_state=seed)
    model.fit(rows.astype(np.float32))
    return model


def _float32_at_most(values: F64) -> F64:
    """For each float64, the largest float32 that is <= it."""
    f32 = values.astype(np.float32)
    above = f32.astype(np.float64) > values
    f32[above] = np.nextafter(f32[above], np.float32(-np.inf))
    out: F64 = f32.astype(np.float64)
    return out


def _tree_attributes(model: IsolationForest) -> dict[str, list[Any]]:
    attrs: dict[str, list[Any]] = {k: [] for k in (
        "nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values", "nodes_modes",
        "nodes_truenodeids", "nodes_falsenodeids", "nodes_missing_value_tracks_true",
        "target_treeids", "target_nodeids", "target_ids", "target_weights")}
    for t, (est, feats) in enumerate(zip(model.estimators_, model.estimators_features_,
                                         strict=True)):
        tree = est.tree_
        leaf_value = (model._decision_path_lengths[t] + model._average_path_length_per_tree[t]
                      - 1.0)
        thresholds = _float32_at_most(tree.threshold)
        missing_left = getattr(tree, "missing_go_to_left", np.zeros(tree.node_count, np.uint8))
        for node in range(tree.node_count):
            left, right = int(tree.children_left[node]), int(tree.children_right[node])
            attrs["nodes_treeids"].append(t)
            attrs["nodes_nodeids"].append(node)
            is_leaf = left == -1
            attrs["nodes_featureids"].append(0 if is_leaf else int(feats[tree.feature[node]]))
            attrs["nodes_values"].append(0.0 if is_leaf else float(thresholds[node]))
            attrs["nodes_modes"].append("LEAF" if is_leaf else "BRANCH_LEQ")
            attrs["nodes_truenodeids"].append(0 if is_leaf else left)
            attrs["nodes_falsenodeids"].append(0 if is_leaf else right)
            attrs["nodes_missing_value_tracks_true"].append(
                0 if is_leaf else int(missing_left[node]))
            if is_leaf:
                attrs["target_treeids"].append(t)
                attrs["target_nodeids"].append(node)
                attrs["target_ids"].append(0)
                attrs["target_weights"].append(float(leaf_value[node]))
    return attrs


def export_iforest(model: IsolationForest, *, n_features: int = len(MODEL_FEATURES),
                   model_name: str = "iforest") -> bytes:
    """The compact ONNX model (serialized bytes): float32 ``x [N, n_features]`` -> ``score [N,
    1]`` = ``-model.score_samples(x)``."""
    denominator = len(model.estimators_) * float(_average_path_length([model._max_samples])[0])
    if denominator <= 0:
        raise ModelError("the IsolationForest was fitted on a single sample; cannot export")
    attributes: dict[str, Any] = {
        "n_targets": 1, "aggregate_function": "SUM", "post_transform": "NONE",
        "base_values": [0.0], **_tree_attributes(model)}
    ensemble = helper.make_node("TreeEnsembleRegressor", [INPUT_NAME], ["depth"],
                                domain="ai.onnx.ml", **attributes)
    scale = helper.make_tensor("neg_inv_denominator", TensorProto.FLOAT, [], [-1.0 / denominator])
    two = helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])
    graph = helper.make_graph(
        [ensemble,
         helper.make_node("Mul", ["depth", "neg_inv_denominator"], ["exponent"]),
         helper.make_node("Pow", ["two", "exponent"], [OUTPUT_NAME])],
        model_name,
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [None, 1])],
        initializer=[scale, two])
    onnx_model = helper.make_model(graph, opset_imports=[
        helper.make_opsetid("", ONNX_OPSET), helper.make_opsetid("ai.onnx.ml", ML_OPSET)])
    onnx_model.ir_version = 8
    onnx.checker.check_model(onnx_model)
    data: bytes = onnx_model.SerializeToString()
    return data


def export_stock(model: IsolationForest, *, n_features: int = len(MODEL_FEATURES)) -> bytes:
    """The stock skl2onnx graph of the same model (the baseline of the benchmark)."""
    from skl2onnx import to_onnx

    sample = np.zeros((1, n_features), dtype=np.float32)
    onx = to_onnx(model, sample, target_opset={"": ONNX_OPSET, "ai.onnx.ml": ML_OPSET})
    data: bytes = onx.SerializeToString()
    return data
