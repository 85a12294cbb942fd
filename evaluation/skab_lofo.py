"""A window model's constants (the envelope's, or the subspace model's) chosen on SKAB without
looking at the folder they are scored on.

Leave one folder out: for each of SKAB's folders (``valve1``, ``valve2``, ``other``), every
combination of the grid below is scored on the *other* folders' files, the combination with
the best F1 among those whose false-alarm rate stays within :data:`FAR_LIMIT` is chosen (the
lowest false-alarm rate when none does), and the held-out folder's files are predicted with
it. The held-out predictions of all folders are then scored together: that is the figure to
quote, since no constant that made it was chosen on the files it scores.

The predictions are computed offline with the same functions the online path runs: the
model fitted on each file's training rows (:func:`fit_envelope`, :func:`fit_subspace`), the
window features (rolling means, and spreads for the subspace model;
as :class:`~agents.detectors.envelope_track.EnvelopeTrack` forms them scan by scan), the
deviations (``reference_deviations``, what the ONNX graphs compute) and
the alarm rule of :meth:`EnvelopeTrack.judge` (the decaying peak depends on the alarm level
only through the model's ``peak_cap``, so a whole grid costs one pass per window and level).
``tests/unit/test_skab_lofo.py`` holds them equal to the replayed detector path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import product

import numpy as np
import numpy.typing as npt

from agents.detectors.envelope import EnvelopeParams
from agents.detectors.envelope_track import decaying_peaks
from agents.detectors.subspace import SubspaceParams
from agents.features.windows import F64
from evaluation.skab_data import FEATURES, TRAIN_ROWS, SkabFile
from evaluation.skab_scoring import OutlierScore, outlier_score
from modelops.export import subspace
from modelops.export.envelope import fit_envelope, reference_deviations, rolling_means
from modelops.export.subspace import fit_subspace, window_features

WINDOWS = (5, 10, 15, 20, 30)
LEVELS = (1.4, 1.6, 1.8, 2.0, 2.2, 2.4, 2.6, 2.8, 3.0)
SHARES = (0.0, 0.1, 0.2)
#: the subspace model's ratio is a squared distance over its training limit: its own levels
SUBSPACE_LEVELS = (4.0, 6.0, 8.0, 10.0, 12.0, 16.0, 20.0, 24.0)
WINDOW_KINDS = ("envelope", "subspace")
#: the false-alarm rate the chosen constants must keep on the folders they are chosen on, %
FAR_LIMIT = 10.0


@dataclass(frozen=True)
class FolderChoice:
    """The constants chosen without ``held_out``, their score where chosen and there."""

    held_out: str
    params: EnvelopeParams
    tuning: OutlierScore
    held_out_score: OutlierScore


@dataclass(frozen=True)
class LofoResult:
    kind: str
    folders: tuple[FolderChoice, ...]
    #: every held-out prediction scored together
    pooled: OutlierScore
    combinations: int


def folder(skab_file: SkabFile) -> str:
    return skab_file.name.split("/", 1)[0]


class _FileTrack:
    """One file's deviations per window and decaying peaks per window and memory limit (they
    do not depend on the alarm level or share otherwise)."""

    def __init__(self, skab_file: SkabFile, columns: Sequence[str],
                 half_life_scans: float, kind: str = "envelope") -> None:
        if kind not in WINDOW_KINDS:
            raise ValueError(f"unknown window model {kind!r}; use one of {WINDOW_KINDS}")
        self.file, self.kind = skab_file, kind
        self._cols = [FEATURES.index(c) for c in columns]
        self._tags = list(columns)
        self._decay = EnvelopeParams(peak_half_life_scans=half_life_scans).decay
        self._deviation: dict[int, F64] = {}
        self._peak: dict[tuple[int, float], F64] = {}

    def _deviations(self, window: int) -> F64:
        if window not in self._deviation:
            values = self.file.features[:, self._cols]
            if self.kind == "envelope":
                fit = fit_envelope(values[:TRAIN_ROWS], self._tags,
                                   EnvelopeParams(window_scans=window))
                deviation = reference_deviations(fit, rolling_means(values, window))
            else:
                sub = fit_subspace(values[:TRAIN_ROWS], self._tags,
                                   SubspaceParams(window_scans=window))
                deviation = subspace.reference_deviations(sub, window_features(values, window))
            self._deviation[window] = deviation
        return self._deviation[window]

    def predict(self, params: EnvelopeParams) -> F64:
        """The binary prediction on the file's test rows: any tag over the judged level."""
        deviation = self._deviations(params.window_scans)
        key = (params.window_scans, params.memory_limit)
        if key not in self._peak:
            self._peak[key] = decaying_peaks(deviation.max(axis=1), self._decay,
                                             params.memory_limit)
        bar = np.maximum(params.alarm_level, params.peak_share * self._peak[key])
        flagged: npt.NDArray[np.bool_] = np.asarray((deviation > bar[:, None]).any(axis=1))
        out: F64 = flagged[TRAIN_ROWS:].astype(np.float64)
        return out


def envelope_predictions(files: Sequence[SkabFile], params: EnvelopeParams,
                         columns: Sequence[str] = FEATURES) -> list[F64]:
    """Each file's test-row prediction by the window model ``params`` are for (a
    :class:`SubspaceParams`: the subspace model), computed offline."""
    kind = "subspace" if isinstance(params, SubspaceParams) else "envelope"
    return [_FileTrack(f, columns, params.peak_half_life_scans, kind).predict(params)
            for f in files]


def _score(tracks: Sequence[_FileTrack], params: EnvelopeParams) -> OutlierScore:
    return outlier_score([t.file.split(TRAIN_ROWS)[1].anomaly for t in tracks],
                         [t.predict(params) for t in tracks])


def _choose(scores: dict[EnvelopeParams, OutlierScore]) -> EnvelopeParams:
    within = [p for p, s in scores.items() if s.far <= FAR_LIMIT]
    if within:  # the best F1 within the limit; the lower false-alarm rate on a tie
        return max(within, key=lambda p: (scores[p].f1, -scores[p].far))
    return min(scores, key=lambda p: (scores[p].far, -scores[p].f1))


def leave_one_folder_out(files: Sequence[SkabFile], columns: Sequence[str] = FEATURES,
                         kind: str = "envelope") -> LofoResult:
    """Choose the window model's window, alarm level and peak share per held-out folder (see
    the module docstring) and score the held-out predictions."""
    base = SubspaceParams() if kind == "subspace" else EnvelopeParams()
    levels = SUBSPACE_LEVELS if kind == "subspace" else LEVELS
    grid = [replace(base, window_scans=w, alarm_level=a, peak_share=s)
            for w, a, s in product(WINDOWS, levels, SHARES)]
    tracks = [_FileTrack(f, columns, base.peak_half_life_scans, kind) for f in files]
    folders = sorted({folder(f) for f in files})
    if len(folders) < 2:
        raise ValueError(f"leave one folder out needs two folders at least, got {folders}")
    choices = []
    truths: list[npt.NDArray[np.int8]] = []
    predictions: list[F64] = []
    for held in folders:
        tuning = [t for t in tracks if folder(t.file) != held]
        scored = [t for t in tracks if folder(t.file) == held]
        chosen = _choose({p: _score(tuning, p) for p in grid})
        held_predictions = [t.predict(chosen) for t in scored]
        held_truths = [t.file.split(TRAIN_ROWS)[1].anomaly for t in scored]
        choices.append(FolderChoice(held, chosen, _score(tuning, chosen),
                                    outlier_score(held_truths, held_predictions)))
        truths.extend(held_truths)
        predictions.extend(held_predictions)
    pooled = outlier_score(truths, predictions)
    return LofoResult(kind, tuple(choices), pooled, len(grid))
