"""NAB through the online detector path: each series is one tag of one stream; every row gets
an anomaly score in [0, 1].

Two configurations. ``novelty`` (the default of ``biogas eval nab``): the novelty detector alone
(:mod:`agents.detectors.novelty`), every other detector and rule off; NAB hands each detector
the file's probation length ``P`` (NAB's own detectors use it), and the novelty detector learns
over it and rests ``P // 3`` samples after an event (or a fixed ``rest_scans``).
``statistical``: the worker's default statistical detectors.

Score: ``0`` when the vote did not flag the row, else ``1 - 0.5 / strength`` (strength =
``AnomalyDetected.score`` >= 1), so the detector's own decision is exactly ``score >= 0.5``.
Two results per profile: the threshold fixed at 0.5 before seeing labels, and NAB's own
corpus-optimised threshold (tuned on the test labels, as every published NAB row is).

NAB's series are not plant sensors: by default the plant rules (a value held for 30 minutes is
"stuck", mostly bad quality) are off (:data:`STATISTICAL_ONLY`) and only the statistical
detectors vote; many NAB series legitimately repeat a value for hours.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from agents.detectors.rules import RuleSpec
from evaluation.nab_data import NabFile
from evaluation.nab_scoring import PROFILES, NabResult, NabScorer
from evaluation.replay import F64, ReplayOptions, TableReplay

FIXED_THRESHOLD = 0.5
#: rules for NAB: the stuck and bad-quality checks off for every series
STATISTICAL_ONLY = (RuleSpec(pattern="*", stuck_after_s=None, max_bad_share=None),)


def novelty_rules(nab_file: NabFile, rest_scans: int | None = None) -> tuple[RuleSpec, ...]:
    """The novelty detector alone on the series: warm-up = the probation period, rest = a
    third of it unless given."""
    p = max(nab_file.probation, 1)
    return (RuleSpec(pattern="*", statistical=False, stuck_after_s=None, max_bad_share=None,
                     novelty=True, novelty_warmup_scans=p,
                     novelty_rest_scans=p // 3 if rest_scans is None else rest_scans),)


@dataclass(frozen=True)
class NabRun:
    fixed: tuple[NabResult, ...]
    tuned: tuple[NabResult, ...]
    rows: int
    flagged_rows: int


def row_scores(strength: F64) -> F64:
    """Anomaly score per row from the vote's strength (0 where not flagged)."""
    out: F64 = np.where(strength >= 1.0, 1.0 - 0.5 / np.maximum(strength, 1.0), 0.0)
    return out


def series_scores(nab_file: NabFile, options: ReplayOptions,
                  seconds_per_row: float | None = None,
                  advance: Callable[[int], object] | None = None) -> F64:
    """One series through the detector path; ``seconds_per_row`` replaces the file's
    timestamps with an evenly spaced clock (None keeps them)."""
    times: F64 = nab_file.times.astype(np.float64)
    if seconds_per_row is not None:
        times = times[0] + seconds_per_row * np.arange(len(times), dtype=np.float64)
    replay = TableReplay(("value",), options)
    result = replay.run(times, nab_file.values[:, None], advance)
    return row_scores(result.strength)


def score_corpus(files: Sequence[NabFile], scores: Sequence[F64]) -> NabRun:
    scorer = NabScorer(files)
    fixed = tuple(scorer.score(scores, FIXED_THRESHOLD, p) for p in PROFILES)
    tuned = tuple(scorer.optimise(scores, p) for p in PROFILES)
    rows = sum(len(s) for s in scores)
    flagged = sum(int((s >= FIXED_THRESHOLD).sum()) for s in scores)
    return NabRun(fixed=fixed, tuned=tuned, rows=rows, flagged_rows=flagged)
