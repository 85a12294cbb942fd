"""SKAB through the online detector path, with the leaderboard's protocol.

Per file, a fresh stream: when models are asked for, they are fitted on the model inputs of the
file's first 400 rows (the protocol's training part: :func:`agents.features.reading.model_rows`,
the agents' own training path), exported to ONNX and installed as deployed models. Then every
row of the file is replayed as a scan; the first 400 rows also warm up the windows and adaptive
thresholds. The prediction on rows 400+ is the vote (any reading of the scan flagged), with the
worker's default settings: no threshold is chosen with the labels. Changepoint events are the
prediction's edges (no dilation).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from agents.detectors.autoencoder_export import export_autoencoder, train_autoencoder
from agents.detectors.iforest_export import export_iforest, train_iforest
from agents.detectors.onnx_scorer import OnnxDetector
from agents.features.reading import model_rows
from evaluation.replay import F64, ReplayOptions, TableReplay, tag_name
from evaluation.skab_data import FEATURES, TRAIN_ROWS, SkabFile
from evaluation.skab_scoring import (
    ChangepointScore,
    OutlierScore,
    changepoint_events,
    changepoint_score,
    outlier_score,
)

ModelKind = Literal["iforest", "autoencoder"]


@dataclass(frozen=True)
class SkabRun:
    outlier: OutlierScore
    changepoint: ChangepointScore
    files: int
    test_rows: int


def fit_models(train: SkabFile, kinds: Sequence[ModelKind], seed: int = 0) -> list[OnnxDetector]:
    """ONNX detectors fitted on the model inputs of a file's training rows."""
    tags = [tag_name(c) for c in FEATURES]
    rows = model_rows([(float(t), dict(zip(tags, v.tolist(), strict=True)))
                       for t, v in zip(train.times, train.features, strict=True)])
    models = []
    for kind in kinds:
        if kind == "iforest":
            data = export_iforest(train_iforest(rows, seed=seed))
        else:
            data = export_autoencoder(train_autoencoder(rows, seed=seed))
        models.append(OnnxDetector(data, name=kind))
    return models


def predict_file(skab_file: SkabFile, options: ReplayOptions, kinds: Sequence[ModelKind],
                 advance: Callable[[int], object] | None = None) -> F64:
    """The binary prediction (0/1) on the file's test rows."""
    train, _ = skab_file.split(TRAIN_ROWS)
    replay = TableReplay(FEATURES, options, fit_models(train, kinds))
    result = replay.run(skab_file.times, skab_file.features, advance)
    out: F64 = result.flags[TRAIN_ROWS:].astype("float64")
    return out


def score_files(files: Sequence[SkabFile], predictions: Sequence[F64]) -> SkabRun:
    tests = [f.split(TRAIN_ROWS)[1] for f in files]
    return SkabRun(
        outlier=outlier_score([t.anomaly for t in tests], predictions),
        changepoint=changepoint_score([t.times for t in tests], [t.changepoint for t in tests],
                                      [changepoint_events(p) for p in predictions]),
        files=len(files), test_rows=sum(len(t.times) for t in tests))
