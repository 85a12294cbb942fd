"""Train a model on rows of model inputs, export it to ONNX and run the parity gate.

The IsolationForest is exported in the compact form (:func:`export_iforest`, scores =
``-score_samples``); the autoencoder in its graph form (scores = :func:`reference_scores`).
Rows are split chronologically: the last ``held_out`` share is never trained on and serves the
parity gate and the held-out metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from agents.detectors.autoencoder_export import (
    export_autoencoder,
    reference_scores,
    train_autoencoder,
)
from agents.detectors.iforest_export import export_iforest, train_iforest
from agents.features.reading import MODEL_FEATURES
from agents.features.windows import F64
from modelops.drift import reference
from modelops.errors import TrainingDataError
from modelops.parity import ParityReport, alarm_threshold, check_parity

ModelKind = Literal["iforest", "autoencoder"]
KINDS: tuple[ModelKind, ...] = ("iforest", "autoencoder")
MIN_ROWS = 50


@dataclass(frozen=True)
class Candidate:
    """An exported model with everything its registry entry records."""

    kind: ModelKind
    onnx: bytes
    parity: ParityReport
    metadata: dict[str, Any]


def split(rows: F64, held_out: float) -> tuple[F64, F64]:
    cut = round(len(rows) * (1.0 - held_out))
    return rows[:cut], rows[cut:]


def build(kind: ModelKind, rows: F64, *, held_out: float = 0.2, seed: int = 0) -> Candidate:
    """Train, export and parity-check one model on ``rows`` (``n x len(MODEL_FEATURES)``)."""
    if rows.ndim != 2 or rows.shape[1] != len(MODEL_FEATURES):
        raise TrainingDataError(f"training rows must be n x {len(MODEL_FEATURES)}, "
                                f"got {rows.shape}")
    train, test = split(rows, held_out)
    if len(train) < MIN_ROWS or len(test) == 0:
        raise TrainingDataError(f"{len(rows)} rows are too few: need at least {MIN_ROWS} "
                                "training rows and one held-out row; widen the time range")
    if kind == "iforest":
        forest = train_iforest(train, seed=seed)
        onnx = export_iforest(forest, model_name=kind)
        f32 = np.float32

        def ref(x: F64) -> F64:
            out: F64 = -forest.score_samples(x.astype(f32)).astype(np.float64)
            return out
        params: dict[str, Any] = {"n_estimators": len(forest.estimators_),
                                  "max_samples": int(forest._max_samples)}
    else:
        auto = train_autoencoder(train, seed=seed)
        onnx = export_autoencoder(auto, model_name=kind)

        def ref(x: F64) -> F64:
            return reference_scores(auto, x)
        params = {"hidden": list(auto.mlp.hidden_layer_sizes), "scale": auto.scale}
    threshold = alarm_threshold(ref(train))
    held_scores = ref(test)
    parity = check_parity(onnx, held_scores, test, threshold)
    metadata: dict[str, Any] = {
        "kind": kind, "features": list(MODEL_FEATURES), "params": params, "seed": seed,
        "rows": {"train": len(train), "held_out": len(test)},
        "metrics": {"alarm_threshold": threshold,
                    "held_out_alarm_rate": float((held_scores >= threshold).mean()),
                    "held_out_score_mean": float(held_scores.mean()),
                    "parity": parity.as_dict()},
        "reference": {name: {"edges": list(r.edges), "shares": list(r.shares)}
                      for name, r in reference(train).items()},
    }
    return Candidate(kind=kind, onnx=onnx, parity=parity, metadata=metadata)
