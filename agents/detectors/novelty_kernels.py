"""Compiled step of the novelty detector (see :mod:`agents.detectors.novelty`): one scan's
readings, each through its tag's state, in the order they came."""

from __future__ import annotations

import math

from agents.jit import Arr, kernel

TOLERANCE = 0.05  # beyond the range by this share of it: out of range (NAB's HTM detector's)
CELLS = 512  # cells per warm-up range
SPAN = 8.0  # ranges of cells on either side of the warm-up range
NEAR = 8  # cells (1/64 of the warm-up range): a value this close to a seen one is not new
GRADE = 8  # the novelty score grows with the distance up to NEAR * GRADE cells
N_CELLS = int((1.0 + 2.0 * SPAN) * CELLS) + 1


@kernel
def _update(seen: Arr, s: int, t: int, x: float, base: Arr, width: Arr, lo: Arr, hi: Arr,
            last: Arr, warmup: int, rest: int) -> float:
    """Judge and learn value ``x``, the ``t``-th sample of slot ``s`` (0 during warm-up)."""
    c = math.floor((x - base[s]) / width[s])
    c = min(max(c, 0), N_CELLS - 1)
    out_of_range = False
    dist = NEAR * GRADE
    if t > 0:
        r = hi[s] - lo[s]
        out_of_range = r > 0.0 and (x > hi[s] + TOLERANCE * r or x < lo[s] - TOLERANCE * r)
        for j in range(NEAR * GRADE):
            if (c - j >= 0 and seen[s, c - j]) or (c + j < N_CELLS and seen[s, c + j]):
                dist = j
                break
    novel = t > 0 and dist >= NEAR
    score = 0.0
    if t >= warmup:
        if out_of_range:
            score = 1.0
        elif novel and t - last[s] > rest:
            score = 0.5 + 0.49 * (dist - NEAR) / (NEAR * GRADE - NEAR)
    if out_of_range or novel:
        last[s] = t
    seen[s, c] = True
    lo[s] = min(lo[s], x)
    hi[s] = max(hi[s], x)
    return score


@kernel
def novelty_step(cols: Arr, values: Arr, valid: Arr, slot_of: Arr, warmup: Arr, rest: Arr,
                 count: Arr, last: Arr, base: Arr, width: Arr, lo: Arr, hi: Arr, seen: Arr,
                 buffer: Arr, out: Arr) -> None:
    """Score each valid reading of a tag with a slot (``slot_of[col] >= 0``); ``out`` gets the
    scores (0 for the others). During a slot's warm-up the values are buffered; the last one
    fixes the cell grid from their range and replays them, unscored."""
    for i in range(cols.shape[0]):
        out[i] = 0.0
        s = slot_of[cols[i]]
        if s < 0 or not valid[i]:
            continue
        x = values[i]
        t = count[s]
        count[s] = t + 1
        w = warmup[s]
        if t < w:
            buffer[s, t] = x
            if t == w - 1:
                low = buffer[s, 0]
                high = buffer[s, 0]
                for k in range(w):
                    low = min(low, buffer[s, k])
                    high = max(high, buffer[s, k])
                r0 = high - low
                if r0 <= 0.0:
                    r0 = max(abs(high), 1.0) * 1e-3
                width[s] = r0 / CELLS
                base[s] = low - SPAN * r0
                lo[s] = buffer[s, 0]
                hi[s] = buffer[s, 0]
                for k in range(w):
                    _update(seen, s, k, buffer[s, k], base, width, lo, hi, last, w, rest[s])
            continue
        out[i] = _update(seen, s, t, x, base, width, lo, hi, last, w, rest[s])
