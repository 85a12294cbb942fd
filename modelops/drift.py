"""Population stability index (PSI) of each model input against its training distribution.

The training distribution is kept as decile edges and bin shares per feature (in the artifact's
metadata). ``PSI = sum (a - e) ln(a / e)`` over the bins, shares floored at ``EPS``. Rule of
thumb: < 0.1 stable, 0.1-0.25 moderate, > 0.25 drifting (the default alert threshold).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from statistics import NormalDist
from typing import Any

import numpy as np

from agents.features.reading import MODEL_FEATURES
from agents.features.windows import F64
from modelops.errors import RegistryError, TrainingDataError
from streams.events import (
    AnomalyDetected,
    DetectorVote,
    FeatureContribution,
    Finding,
    ModelDriftMeasured,
    ModelRef,
)

BINS = 10
EPS = 1e-4
DRIFT_DETECTOR = "drift"
ENVELOPE = "envelope"
#: models that judge a window of their stream against their training rows themselves
WINDOW_MODELS = (ENVELOPE, "subspace")


@dataclass(frozen=True)
class Reference:
    """Bin edges (inner, ascending) and expected shares of one feature."""

    edges: tuple[float, ...]
    shares: tuple[float, ...]


def reference(rows: F64, bins: int = BINS) -> dict[str, Reference]:
    """The training distribution of every model input."""
    out: dict[str, Reference] = {}
    for j, name in enumerate(MODEL_FEATURES):
        col = rows[:, j]
        edges = np.unique(np.quantile(col, np.linspace(0, 1, bins + 1)[1:-1]))
        out[name] = Reference(tuple(float(e) for e in edges), tuple(_shares(col, edges)))
    return out


def references_of(metadata: dict[str, Any]) -> dict[str, Reference]:
    """The training distribution recorded in a registry version's metadata."""
    if metadata.get("kind") in WINDOW_MODELS:
        raise RegistryError(f"{metadata.get('model_id')} is an {metadata.get('kind')} model, "
                            "which judges how far its stream is from its training range "
                            "itself; PSI is measured for the per-reading models (iforest, "
                            "autoencoder)")
    try:
        refs = {k: Reference(tuple(v["edges"]), tuple(v["shares"]))
                for k, v in metadata["reference"].items() if k in MODEL_FEATURES}
    except (KeyError, TypeError, AttributeError):
        refs = {}
    if not refs:
        raise RegistryError(f"{metadata.get('model_id')} version {metadata.get('version')} "
                            "records no training distribution of the model inputs; retrain "
                            "it with biogas models train")
    return refs


def _shares(col: F64, edges: F64) -> list[float]:
    counts = np.bincount(np.searchsorted(edges, col, side="right"), minlength=len(edges) + 1)
    return [float(c) for c in counts / max(len(col), 1)]


def psi(ref: Reference, col: F64) -> float:
    expected = np.maximum(np.array(ref.shares), EPS)
    actual = np.maximum(np.array(_shares(col, np.array(ref.edges))), EPS)
    return float(((actual - expected) * np.log(actual / expected)).sum())


#: neighbouring rows of a plant are alike (features over overlapping windows): a sample of n
#: rows holds about n / 4 independent ones
ROWS_PER_INDEPENDENT = 4.0


def min_rows(threshold: float, bins: int = 10) -> int:
    """Rows a window needs before its PSI is judged against ``threshold``: for a plant whose
    inputs did not move, PSI is about chi-square with ``bins - 1`` degrees of freedom over the
    number of independent rows, so with fewer than ``chi2_0.99 / threshold`` of them one
    window in a hundred would cross the limit by chance alone."""
    return math.ceil(ROWS_PER_INDEPENDENT * _chi2_99(bins - 1) / threshold)


def _chi2_99(dof: int) -> float:
    """The 0.99 quantile of chi-square with ``dof`` degrees of freedom (Wilson and Hilferty's
    cube-root approximation: 21.7 for 9, against 21.67 exactly)."""
    z = NormalDist().inv_cdf(0.99)
    h = 2.0 / (9.0 * dof)
    return dof * (1.0 - h + z * math.sqrt(h)) ** 3


def psi_per_feature(refs: dict[str, Reference], rows: F64) -> dict[str, float]:
    if len(rows) == 0:
        raise TrainingDataError("no rows in the drift window; widen --since/--until")
    return {name: psi(refs[name], rows[:, j]) for j, name in enumerate(MODEL_FEATURES)
            if name in refs}


def drift_anomaly(plant_id: str, values: dict[str, float], threshold: float,
                  model: ModelRef, *, window_end: datetime,
                  now: datetime | None = None) -> AnomalyDetected | None:
    """An ``AnomalyDetected`` (detector ``drift``, drifting features as top features) when
    any feature's PSI exceeds ``threshold``; None otherwise. The id is a UUID5 of the plant,
    model and window end, so a repeated check publishes the same event."""
    drifting = sorted((v, k) for k, v in values.items() if v > threshold)[::-1]
    if not drifting:
        return None
    top_value = drifting[0][0]
    total = sum(v for v, _ in drifting)
    key = f"drift|{plant_id}|{model.model_id}|{model.version}|{window_end.isoformat()}"
    return AnomalyDetected(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, key + "|event"),
        anomaly_id=uuid.uuid5(uuid.NAMESPACE_URL, key),
        plant_id=plant_id, tags=(f"model.{model.model_id}",), event_time=window_end,
        detected_at=now or datetime.now(UTC), score=top_value / threshold, threshold=1.0,
        detectors=(DetectorVote(name=DRIFT_DETECTOR, score=top_value, threshold=threshold,
                                voted=True),),
        top_features=tuple(FeatureContribution(name=f"psi:{k}", value=v, contribution=v / total)
                           for v, k in drifting[:6]),
        models=(model,), retrospective=False,
        findings=(Finding(tag=f"model.{model.model_id}", check=DRIFT_DETECTOR,
                          value=top_value, normal_high=threshold,
                          text=(f"the inputs of model {model.model_id} {model.version} moved "
                                f"away from its training data (PSI {top_value:.2f} of "
                                f"{drifting[0][1]}, limit {threshold:.2f}): retrain it?")),))


def drift_measured(plant_id: str, values: dict[str, float], threshold: float, model: ModelRef,
                   *, window_start: datetime, window_end: datetime, rows: int,
                   now: datetime | None = None) -> ModelDriftMeasured:
    """The ``ModelDriftMeasured`` of one plant, model and window. The id is a UUID5 of the
    plant, model, version and window end, so a repeated check publishes the same event."""
    key = f"{plant_id}|{model.model_id}|{model.version}|{window_end.isoformat()}"
    return ModelDriftMeasured(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, "drift-measured|" + key), plant_id=plant_id,
        model=model, window_start=window_start, window_end=window_end, rows=rows,
        psi=values, threshold=threshold, drifting=any(v > threshold for v in values.values()),
        measured_at=now or datetime.now(UTC))
