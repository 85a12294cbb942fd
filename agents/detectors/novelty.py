"""The novelty detector: a value the tag has never taken before.

Opt-in per tag (rules: ``"novelty": true``, with ``novelty_warmup_scans`` (750) and
``novelty_rest_scans`` (250)). Per tag, after a warm-up that only learns (its range fixes a grid
of cells, 1/512 of it wide, spanning eight ranges on either side), each good reading is:

* **out of range**, score 1.0: beyond the lowest or highest value seen by more than 5 % of
  their difference. Always reported.
* **novel**, score ``0.5 + 0.49 (d - 8) / 56``: no earlier value within ``d >= 8`` cells (1/64
  of the warm-up range), the distance ``d`` searched up to 64 cells. Reported unless another
  out-of-range or novel value came within the last ``novelty_rest_scans`` samples of the tag
  (reported or not, warm-up included): a new regime is announced once, not on every new value
  it visits.

then marked as seen. The decision is ``score >= 0.5``, made by the detector itself, so it votes
alone. State per tag: the seen cells (8,705 flags), the range, counters and, during warm-up,
the buffered values; it is part of the stream's snapshot.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from agents.detectors.novelty_kernels import N_CELLS, novelty_step
from agents.detectors.voting import DetectorResult
from agents.features.windows import F64, BoolArray

NAME = "novelty"
THRESHOLD = 0.5
I64 = npt.NDArray[np.int64]
_ARRAYS = ("warmup", "rest", "count", "last", "base", "width", "lo", "hi")
_NEVER = -(10 ** 12)


class NoveltyBank:
    """The novelty state of a stream's tags that have it turned on (a slot each)."""

    def __init__(self) -> None:
        self.slot_of: I64 = np.zeros(0, dtype=np.int64)  # per tag column, -1: off
        self.warmup: I64 = np.zeros(0, dtype=np.int64)
        self.rest: I64 = np.zeros(0, dtype=np.int64)
        self.count: I64 = np.zeros(0, dtype=np.int64)
        self.last: I64 = np.zeros(0, dtype=np.int64)
        self.base: F64 = np.zeros(0)
        self.width: F64 = np.zeros(0)
        self.lo: F64 = np.zeros(0)
        self.hi: F64 = np.zeros(0)
        self.seen: BoolArray = np.zeros((0, N_CELLS), dtype=np.bool_)
        self.buffer: F64 = np.zeros((0, 1))
        self._checked = False  # whether the rules were applied to the known columns

    @property
    def active(self) -> bool:
        return bool(self.warmup.shape[0] > 0)

    def extend(self, warmup: I64, rest: I64) -> None:
        """Columns added since the last call: ``warmup`` (0: off) and ``rest`` per column of
        the stream (every column, as the rule book resolved them). The first call after a
        restore also applies rules changed since the snapshot to the known columns: a tag
        turned on gets a fresh slot, one turned off stops, a new rest applies."""
        known = self.slot_of.shape[0]
        if not self._checked:
            self._checked = True
            for c in range(min(known, warmup.shape[0])):
                s = int(self.slot_of[c])
                if s >= 0 and warmup[c] <= 0:
                    self.slot_of[c] = -1
                elif s >= 0:
                    self.rest[s] = rest[c]
                elif warmup[c] > 0:
                    self.slot_of[c] = self._add_slots(np.array([c]), warmup, rest)[0]
        if warmup.shape[0] <= known:
            return
        new = np.arange(known, warmup.shape[0])
        slots = np.full(new.shape[0], -1, dtype=np.int64)
        on = warmup[new] > 0
        slots[on] = self._add_slots(new[on], warmup, rest)
        self.slot_of = np.concatenate([self.slot_of, slots])

    def _add_slots(self, cols: I64, warmup: I64, rest: I64) -> I64:
        """Fresh slots for tag columns ``cols``; returns their numbers."""
        first, k = self.warmup.shape[0], cols.shape[0]
        if k == 0:
            return np.zeros(0, dtype=np.int64)
        self.warmup = np.concatenate([self.warmup, warmup[cols].astype(np.int64)])
        self.rest = np.concatenate([self.rest, rest[cols].astype(np.int64)])
        self.count = np.concatenate([self.count, np.zeros(k, dtype=np.int64)])
        self.last = np.concatenate([self.last, np.full(k, _NEVER, dtype=np.int64)])
        for name in ("base", "width", "lo", "hi"):
            setattr(self, name, np.concatenate([getattr(self, name), np.zeros(k)]))
        self.seen = np.vstack([self.seen, np.zeros((k, N_CELLS), dtype=np.bool_)])
        width = max(int(self.warmup.max()), 1)
        buffer = np.zeros((self.warmup.shape[0], width))
        buffer[: self.buffer.shape[0], : self.buffer.shape[1]] = self.buffer
        self.buffer = buffer
        return np.arange(first, first + k, dtype=np.int64)

    def vote(self, idx: I64, value: F64, valid: BoolArray) -> DetectorResult:
        """Score one scan's readings (``idx``: the tag column of each)."""
        n = idx.shape[0]
        score: F64 = np.empty(n)
        novelty_step(idx, value, valid, self.slot_of, self.warmup, self.rest, self.count,
                     self.last, self.base, self.width, self.lo, self.hi, self.seen,
                     self.buffer, score)
        return DetectorResult(name=NAME, score=score, threshold=np.full(n, THRESHOLD),
                              voted=score >= THRESHOLD, alone=True, measure=score,
                              measure_name="score")

    def to_parts(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        arrays: dict[str, npt.NDArray[Any]] = {f"nov.{k}": getattr(self, k) for k in _ARRAYS}
        arrays["nov.slot_of"] = self.slot_of
        arrays["nov.seen"] = self.seen
        # the values of slots still warming up only
        warming = self.count < self.warmup
        arrays["nov.buffer"] = self.buffer if warming.any() else np.zeros((0, 1))
        return {"slots": int(self.warmup.shape[0])}, arrays

    @classmethod
    def from_parts(cls, meta: dict[str, Any], arrays: dict[str, Any]) -> NoveltyBank:
        bank = cls()
        slots = int(meta["slots"])
        for k in (*_ARRAYS, "slot_of", "seen"):
            setattr(bank, k, np.asarray(arrays[f"nov.{k}"]).copy())
        if bank.warmup.shape[0] != slots or bank.seen.shape != (slots, N_CELLS):
            raise ValueError(f"novelty state of {slots} slots has arrays "
                             f"{bank.warmup.shape} and {bank.seen.shape}")
        buffer = np.asarray(arrays["nov.buffer"], dtype=np.float64)
        width = max(int(bank.warmup.max()), 1) if slots else 1
        bank.buffer = buffer if buffer.shape[0] == slots else np.zeros((slots, width))
        return bank
