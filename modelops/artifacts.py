"""Train a model, export it to ONNX and run the parity gate.

The IsolationForest is exported in the compact form (:func:`export_iforest`, scores =
``-score_samples``); the autoencoder in its graph form (scores = :func:`reference_scores`); both
learn from rows of the agents' per-reading model inputs. The envelope learns from one stream's
readings, a row per scan (:func:`build_envelope`).
Rows are split chronologically: the last ``held_out`` share is never trained on and serves the
parity gate and the held-out metrics.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from agents.detectors.envelope import EnvelopeDetector, EnvelopeParams
from agents.detectors.subspace import SubspaceDetector, SubspaceParams
from agents.errors import ModelError
from agents.features.reading import MODEL_FEATURES
from agents.features.windows import F64
from modelops.drift import reference
from modelops.errors import TrainingDataError
from modelops.export import subspace
from modelops.export.autoencoder import (
    export_autoencoder,
    reference_scores,
    train_autoencoder,
)
from modelops.export.envelope import (
    export_envelope,
    fit_envelope,
    reference_deviations,
    rolling_means,
)
from modelops.export.iforest import export_iforest, train_iforest
from modelops.export.subspace import export_subspace, fit_subspace, window_features
from modelops.parity import ParityReport, alarm_threshold, check_parity, compare_scores

ModelKind = Literal["iforest", "autoencoder", "envelope", "subspace"]
KINDS: tuple[ModelKind, ...] = ("iforest", "autoencoder", "envelope", "subspace")
#: the models trained on one stream's scans (a window of its tags), from the log
WINDOW_KINDS: tuple[ModelKind, ...] = ("envelope", "subspace")
#: the models trained on the agents' per-reading model inputs (``train``'s default)
PER_READING: tuple[ModelKind, ...] = ("iforest", "autoencoder")
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


def _window_split(values: F64, held_out: float) -> tuple[F64, F64]:
    train, test = split(values, held_out)
    if len(train) < MIN_ROWS or len(test) == 0:
        raise TrainingDataError(f"{len(values)} scans are too few: need at least {MIN_ROWS} "
                                "training scans and one held-out scan; widen the time range")
    return train, test


def _window_candidate(kind: ModelKind, tags: tuple[str, ...], onnx: bytes,
                      params: EnvelopeParams, rows: tuple[int, int], scores: F64,
                      held_scores: F64, fitted: dict[str, Any]) -> Candidate:
    """The gate and the registry entry of a window model: each held-out row's largest
    deviation (its score) under ONNX and under the float64 reference, and the alarm decision
    ``score > alarm_level``."""
    level = params.alarm_level
    # the gate's decisions are score >= threshold: the next float above the level is the
    # first that alarms (deviation > level)
    parity = compare_scores(scores, held_scores, float(np.nextafter(level, np.inf)))
    metadata: dict[str, Any] = {
        "kind": kind, "features": list(tags), "params": asdict(params),
        "rows": {"train": rows[0], "held_out": rows[1]}, kind: fitted,
        "metrics": {"alarm_threshold": level,
                    "held_out_alarm_rate": float((held_scores > level).mean()),
                    "held_out_score_mean": float(held_scores.mean()),
                    "parity": parity.as_dict()},
    }
    return Candidate(kind=kind, onnx=onnx, parity=parity, metadata=metadata)


def build_envelope(tags: tuple[str, ...], values: F64, *, held_out: float = 0.2,
                   params: EnvelopeParams | None = None) -> Candidate:
    """Fit, export and parity-check an envelope on one stream's rows (``scans x tags``)."""
    train, test = _window_split(values, held_out)
    try:
        fit = fit_envelope(train, tags, params)
        onnx = export_envelope(fit, model_name="envelope")
        means = rolling_means(values, fit.params.window_scans)[len(train):]
        scores = EnvelopeDetector(onnx).deviations(means).max(axis=1)
    except ModelError as exc:
        raise TrainingDataError(f"cannot fit an envelope: {exc}") from exc
    return _window_candidate(
        "envelope", tags, onnx, fit.params, (len(train), len(test)), scores,
        reference_deviations(fit, means).max(axis=1),
        {"centre": fit.centre.tolist(), "scale": fit.scale.tolist()})


def build_subspace(tags: tuple[str, ...], values: F64, *, held_out: float = 0.2,
                   params: SubspaceParams | None = None) -> Candidate:
    """Fit, export and parity-check a subspace model on one stream's rows (``scans x
    tags``), gated like the envelope."""
    train, test = _window_split(values, held_out)
    try:
        fit = fit_subspace(train, tags, params)
        onnx = export_subspace(fit, model_name="subspace")
        features = window_features(values, fit.params.window_scans)[len(train):]
        scores = SubspaceDetector(onnx).deviations(features).max(axis=1)
    except ModelError as exc:
        raise TrainingDataError(f"cannot fit a subspace model: {exc}") from exc
    return _window_candidate(
        "subspace", tags, onnx, fit.params, (len(train), len(test)), scores,
        subspace.reference_deviations(fit, features).max(axis=1),
        {"components": int(fit.components.shape[1]), "t2_limit": fit.t2_limit,
         "spe_limit": fit.spe_limit})


def build(kind: ModelKind, rows: F64, *, held_out: float = 0.2, seed: int = 0) -> Candidate:
    """Train, export and parity-check one per-reading model on ``rows`` (``n x
    len(MODEL_FEATURES)``)."""
    if kind not in PER_READING:
        raise TrainingDataError(f"{kind} is not trained on per-reading rows (build_envelope, "
                                "build_subspace)")
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
