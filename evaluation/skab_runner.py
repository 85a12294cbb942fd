"""SKAB through the online detector path, with the leaderboard's protocol.

Per file, a fresh stream: the models asked for are fitted on the file's first 400 rows (the
protocol's training part), exported to ONNX and installed as deployed models: the envelope and
the subspace model on the rows' values (:func:`modelops.export.envelope.fit_envelope`,
:func:`modelops.export.subspace.fit_subspace`), the IsolationForest and the
autoencoder on their model inputs (:func:`agents.features.reading.model_rows`, the agents' own
training path). Then every row of the file is replayed as a scan; the first 400 rows also warm
up the windows and adaptive thresholds. The prediction on rows 400+ is the vote (any reading of
the scan flagged). Changepoint events are the prediction's edges (no dilation).

With :data:`MODELS_ONLY` rules (the default of ``biogas eval skab``) only the deployed models
vote: every tag is kept away from the per-reading statistical detectors and the stuck and
quality rules are off, so the envelope decides alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from agents.detectors.deployed import DeployedModel
from agents.detectors.envelope import EnvelopeDetector, EnvelopeParams
from agents.detectors.onnx_scorer import OnnxDetector
from agents.detectors.rules import RuleSpec
from agents.detectors.subspace import SubspaceDetector
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
from modelops.export.autoencoder import export_autoencoder, train_autoencoder
from modelops.export.envelope import export_envelope, fit_envelope
from modelops.export.iforest import export_iforest, train_iforest
from modelops.export.subspace import export_subspace, fit_subspace

ModelKind = Literal["envelope", "subspace", "iforest", "autoencoder"]
#: per-reading models: they vote with the per-reading statistical detectors
PER_READING: tuple[ModelKind, ...] = ("iforest", "autoencoder")
#: rules under which only the deployed models vote
MODELS_ONLY = (RuleSpec(pattern="*", statistical=False, stuck_after_s=None, max_bad_share=None),)


@dataclass(frozen=True)
class SkabRun:
    outlier: OutlierScore
    changepoint: ChangepointScore
    files: int
    test_rows: int


def fit_models(train: SkabFile, kinds: Sequence[ModelKind], seed: int = 0,
               envelope_columns: Sequence[str] = FEATURES,
               envelope: EnvelopeParams | None = None) -> list[DeployedModel]:
    """ONNX detectors fitted on a file's training rows."""
    tags = [tag_name(c) for c in FEATURES]
    rows = model_rows([(float(t), dict(zip(tags, v.tolist(), strict=True)))
                       for t, v in zip(train.times, train.features, strict=True)]) \
        if set(kinds) & set(PER_READING) else None
    models: list[DeployedModel] = []
    for kind in kinds:
        if kind == "envelope":
            cols = [FEATURES.index(c) for c in envelope_columns]
            fit = fit_envelope(train.features[:, cols], [tags[i] for i in cols], envelope)
            models.append(EnvelopeDetector(export_envelope(fit), name=kind))
            continue
        if kind == "subspace":
            cols = [FEATURES.index(c) for c in envelope_columns]
            sub = fit_subspace(train.features[:, cols], [tags[i] for i in cols])
            models.append(SubspaceDetector(export_subspace(sub), name=kind))
            continue
        assert rows is not None
        if kind == "iforest":
            data = export_iforest(train_iforest(rows, seed=seed))
        else:
            data = export_autoencoder(train_autoencoder(rows, seed=seed))
        models.append(OnnxDetector(data, name=kind))
    return models


def predict_file(skab_file: SkabFile, options: ReplayOptions, kinds: Sequence[ModelKind],
                 advance: Callable[[int], object] | None = None,
                 envelope_columns: Sequence[str] = FEATURES) -> F64:
    """The binary prediction (0/1) on the file's test rows."""
    train, _ = skab_file.split(TRAIN_ROWS)
    replay = TableReplay(FEATURES, options,
                         fit_models(train, kinds, envelope_columns=envelope_columns))
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
