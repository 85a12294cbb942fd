"""One stream's state for one window model (an envelope or a subspace model), and its vote on
a scan.

The track keeps the model's tags over the last ``window_scans`` scans (NaN where a scan had no
good reading of a tag) and the decaying peak of the scan deviation; see
:mod:`agents.detectors.envelope` for the alarm rule. It starts afresh when a new model version
(another sha256) or another tag list is deployed under the same model id.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from agents.detectors.envelope import WindowModel, frame_means
from agents.detectors.voting import DetectorResult
from agents.features.windows import F64, BoolArray

I64 = npt.NDArray[np.int64]


def decaying_peaks(worst: F64, decay: float, memory_limit: float = np.inf) -> F64:
    """The peak :meth:`EnvelopeTrack.judge` holds after each of a run of scans whose largest
    deviations are ``worst`` (starting from 0), for offline replays of the alarm rule."""
    out: F64 = np.empty(len(worst))
    peak = 0.0
    for i, w in enumerate(worst.tolist()):
        peak = max(w, decay * min(peak, memory_limit))
        out[i] = peak
    return out


class EnvelopeTrack:
    """The rolling window and the peak of one envelope model on one stream."""

    def __init__(self, tags: tuple[str, ...], window: int, sha: str | None) -> None:
        self.tags, self.window, self.sha = tags, window, sha
        self.buffer: F64 = np.full((window, len(tags)), np.nan)
        self.pos = 0  # the row written next (the oldest)
        self.peak = 0.0
        self._cols: I64 | None = None  # windows column of each model tag (-1: not seen yet)

    @classmethod
    def for_model(cls, model: WindowModel) -> EnvelopeTrack:
        return cls(model.tags, model.params.window_scans,
                   None if model.ref is None else model.ref.sha256)

    def fits(self, model: WindowModel) -> bool:
        sha = None if model.ref is None else model.ref.sha256
        return sha == self.sha and model.tags == self.tags \
            and model.params.window_scans == self.window

    def push_frames(self, row: F64) -> F64:
        """Add one scan's values (NaN = none) and return the window (``1 x tags x window``,
        oldest first)."""
        self.buffer[self.pos] = row
        self.pos = (self.pos + 1) % self.window
        chronological = np.concatenate([self.buffer[self.pos:], self.buffer[:self.pos]])
        frames: F64 = chronological.T[None]
        return frames

    def push(self, row: F64) -> F64:
        """Add one scan's values (NaN = none) and return the rolling means (``1 x tags``)."""
        return frame_means(self.push_frames(row))

    def judge(self, deviation: F64, level: float, share: float, decay: float,
              memory_limit: float = np.inf) -> tuple[BoolArray, float]:
        """Tags beyond the alarm level, and the level they were judged against (the peak
        carries at most ``memory_limit`` over from earlier scans)."""
        worst = float(deviation.max()) if deviation.size else 0.0
        self.peak = max(worst, decay * min(self.peak, memory_limit))
        bar = max(level, share * self.peak)
        flagged: BoolArray = deviation > bar
        return flagged, bar

    def positions(self, index: dict[str, int], columns: int, idx: I64) -> I64:
        """Per model tag, its reading's position in the scan (``idx``: windows column of each
        reading), or -1 when the scan has no reading of it."""
        if self._cols is None or (self._cols < 0).any():
            self._cols = np.array([index.get(t, -1) for t in self.tags], dtype=np.int64)
        where = np.full(columns + 1, -1, dtype=np.int64)  # the last slot answers column -1
        where[idx] = np.arange(idx.shape[0])
        found: I64 = where[self._cols]
        return found

    def vote(self, model: WindowModel, index: dict[str, int], columns: int, idx: I64,
             value: F64, valid: BoolArray) -> DetectorResult | None:
        """The model's vote on a scan's readings (None when the scan has none of its tags).

        Scores are ``deviation / (deviation + alarm_level)`` in [0, 1), so the alarm level
        itself scores 0.5; the threshold is the judged level on the same scale."""
        where = self.positions(index, columns, idx)
        present = where >= 0
        if not present.any():
            return None
        row = np.full(len(self.tags), np.nan)
        at = where[present]
        row[present] = np.where(valid[at], value[at], np.nan)
        params = model.params
        deviation = model.deviations(model.features(self.push_frames(row)))[0]
        flagged, bar = self.judge(deviation, params.alarm_level, params.peak_share,
                                  params.decay, params.memory_limit)
        c = params.alarm_level
        n = idx.shape[0]
        score: F64 = np.zeros(n)
        raw: F64 = np.zeros(n)
        score[at] = deviation[present] / (deviation[present] + c)
        raw[at] = deviation[present]
        voted: BoolArray = np.zeros(n, dtype=np.bool_)
        voted[where[flagged & present]] = True
        threshold: F64 = np.full(n, bar / (bar + c))
        return DetectorResult(name=model.name, score=score, threshold=threshold, voted=voted,
                              alone=True, measure=raw)

    def to_parts(self, prefix: str) -> tuple[dict[str, Any], dict[str, F64]]:
        meta = {"tags": list(self.tags), "window": self.window, "sha": self.sha,
                "pos": self.pos, "peak": self.peak}
        return meta, {f"{prefix}.buffer": self.buffer}

    @classmethod
    def from_parts(cls, meta: dict[str, Any], arrays: dict[str, Any],
                   prefix: str) -> EnvelopeTrack:
        track = cls(tuple(meta["tags"]), int(meta["window"]), meta["sha"])
        buffer = np.asarray(arrays[f"{prefix}.buffer"], dtype=np.float64)
        if buffer.shape != track.buffer.shape:
            raise ValueError(f"envelope buffer {buffer.shape} != {track.buffer.shape}")
        track.buffer, track.pos, track.peak = buffer, int(meta["pos"]), float(meta["peak"])
        return track
