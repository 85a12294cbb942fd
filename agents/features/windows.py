"""Rolling event-time windows per tag for one scan stream, as bucketed sums in numpy arrays.

Each window of ``W`` seconds is split into ``n_buckets`` buckets of ``W / n_buckets`` seconds,
aligned to the hour. A window's statistics are the sums over its buckets, so a window covers
between ``W`` and ``W + W / n_buckets`` seconds of event time (the scan's ``source_ts``).
Values are stored relative to the tag's first value so that large counters keep their precision.
Every tag of a stream has one column; all updates of a scan are a handful of vectorised numpy
operations whatever the number of readings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

WINDOWS_S: tuple[int, ...] = (60, 600, 3600)
N_BUCKETS = 12
#: Rows of the accumulator: count, sum, sum of squares, Σt, Σt², Σtv, bad samples, all samples.
N_SUMS = 8
CNT, SUM, SUMSQ, ST, STT, STV, BAD, TOT = range(N_SUMS)
EWMA_TAU_S = 60.0
NOISE_ALPHA = 0.02


@dataclass(frozen=True)
class Aggregates:
    """Window statistics for some tags: each array is ``(n_windows, n_tags)``."""

    count: F64
    mean: F64
    std: F64
    minimum: F64
    maximum: F64
    slope_per_s: F64
    bad_share: F64
    samples: F64


@dataclass(frozen=True)
class Step:
    """What a scan changed for its readings, measured against the previous sample."""

    idx: I64
    value: F64
    valid: BoolArray
    jump: F64
    roc_per_s: F64
    noise_before: F64


class TagWindows:
    """The rolling state of one stream (plant, device, poll group)."""

    ARRAYS = ("acc", "tot", "mn", "mx", "bucket_no", "ref", "last_value", "last_ts",
              "changed_ts", "ewma", "diff_var", "n_seen", "n_changes")

    def __init__(self, windows_s: tuple[int, ...] = WINDOWS_S, n_buckets: int = N_BUCKETS,
                 capacity: int = 8) -> None:
        self.windows_s = tuple(windows_s)
        self.n_buckets = n_buckets
        self.width = np.asarray(self.windows_s, dtype=np.float64) / n_buckets
        self.tags: list[str] = []
        self.index: dict[str, int] = {}
        self.origin: float | None = None
        self.watermark = -math.inf
        n_w = len(self.windows_s)
        self.bucket_no: I64 = np.full(n_w, -1, dtype=np.int64)
        self.acc: F64 = np.zeros((N_SUMS, n_w, n_buckets, capacity))
        self.tot: F64 = np.zeros((N_SUMS, n_w, capacity))
        self.mn: F64 = np.full((n_w, n_buckets, capacity), np.inf)
        self.mx: F64 = np.full((n_w, n_buckets, capacity), -np.inf)
        self.ref: F64 = np.full(capacity, np.nan)
        self.last_value: F64 = np.full(capacity, np.nan)
        self.last_ts: F64 = np.full(capacity, np.nan)
        self.changed_ts: F64 = np.full(capacity, np.nan)
        self.ewma: F64 = np.full(capacity, np.nan)
        self.diff_var: F64 = np.full(capacity, np.nan)
        self.n_seen: F64 = np.zeros(capacity)
        self.n_changes: F64 = np.zeros(capacity)
        self._last_tags: list[str] | None = None
        self._last_idx: I64 = np.zeros(0, dtype=np.int64)
        self._last_sel: slice | I64 = self._last_idx

    @property
    def capacity(self) -> int:
        return int(self.ref.shape[0])

    def slots(self, tags: list[str]) -> I64:
        """Column of each tag, adding columns for tags not seen before (read-only; the same
        array as the last call when the tags are the same)."""
        if tags == self._last_tags:
            return self._last_idx
        index = self.index
        out = np.empty(len(tags), dtype=np.int64)
        for i, tag in enumerate(tags):
            slot = index.get(tag)
            if slot is None:
                slot = len(self.tags)
                index[tag] = slot
                self.tags.append(tag)
            out[i] = slot
        if len(self.tags) > self.capacity:
            self._grow(max(len(self.tags), 2 * self.capacity))
        out.flags.writeable = False
        self._last_tags, self._last_idx, self._last_sel = list(tags), out, as_selector(out)
        return out

    def selector(self, idx: I64) -> slice | I64:
        """:func:`as_selector` of ``idx``, kept for the columns :meth:`slots` returned last."""
        return self._last_sel if idx is self._last_idx else as_selector(idx)

    def _grow(self, capacity: int) -> None:
        extra = capacity - self.capacity

        def pad(arr: F64, fill: float) -> F64:
            shape = (*arr.shape[:-1], extra)
            return np.concatenate([arr, np.full(shape, fill)], axis=-1)

        self.acc = pad(self.acc, 0.0)
        self.tot = pad(self.tot, 0.0)
        self.mn = pad(self.mn, np.inf)
        self.mx = pad(self.mx, -np.inf)
        for name in ("ref", "last_value", "last_ts", "changed_ts", "ewma", "diff_var"):
            setattr(self, name, pad(getattr(self, name), np.nan))
        self.n_seen = pad(self.n_seen, 0.0)
        self.n_changes = pad(self.n_changes, 0.0)

    def update(self, ts: float, idx: I64, values: F64, good: BoolArray) -> Step:
        """Add one scan's readings (``values`` NaN when missing) taken at event time ``ts``."""
        if self.origin is None:
            self.origin = math.floor(ts / 3600.0) * 3600.0
        t = ts - self.origin
        valid = good & np.isfinite(values)
        all_valid = np.count_nonzero(valid) == valid.shape[0]
        late = ts < self.watermark
        self.watermark = max(self.watermark, ts)
        sel = self.selector(idx)
        ref = self.ref[sel]
        fresh = valid & np.isnan(ref)
        if np.count_nonzero(fresh):
            self.ref[idx[fresh]] = values[fresh]
            ref = self.ref[sel]
        rel = values - ref
        if not all_valid:
            rel = np.where(valid, rel, 0.0)
        self._add_to_buckets(t, idx, sel, valid, all_valid, rel, good)
        return self._step(ts, idx, sel, values, valid, all_valid, late)

    def _add_to_buckets(self, t: float, idx: I64, sel: slice | I64, valid: BoolArray,
                        all_valid: bool, rel: F64, good: BoolArray) -> None:
        n_b = self.n_buckets
        k = [math.floor(t / width) for width in self.width.tolist()]
        bucket_no = self.bucket_no.tolist()
        for w, (k_w, last) in enumerate(zip(k, bucket_no, strict=True)):
            if k_w > last:
                n_clear = n_b if last < 0 else min(k_w - last, n_b)
                cleared = np.arange(k_w - n_clear + 1, k_w + 1) % n_b
                self.acc[:, w, cleared, :] = 0.0
                self.tot[:, w, :] = self.acc[:, w].sum(axis=1)
                self.mn[w, cleared, :] = np.inf
                self.mx[w, cleared, :] = -np.inf
                self.bucket_no[w] = k_w
                bucket_no[w] = k_w
        live = [w for w, (k_w, last) in enumerate(zip(k, bucket_no, strict=True))
                if k_w > last - n_b]
        if not live:
            return
        contrib = np.empty((N_SUMS, rel.shape[0]))
        contrib[CNT] = valid
        contrib[SUM] = rel
        np.multiply(rel, rel, out=contrib[SUMSQ])
        np.multiply(contrib[CNT], t, out=contrib[ST])
        np.multiply(contrib[CNT], t * t, out=contrib[STT])
        np.multiply(rel, t, out=contrib[STV])
        contrib[BAD] = ~good
        contrib[TOT] = 1.0
        masked = rel if all_valid else np.where(valid, rel, np.nan)
        for w in live:
            b = k[w] % n_b
            self.acc[:, w, b, sel] += contrib
            self.mn[w, b, sel] = np.fmin(self.mn[w, b, sel], masked)
            self.mx[w, b, sel] = np.fmax(self.mx[w, b, sel], masked)
        if len(live) == len(self.windows_s):
            self.tot[:, :, sel] += contrib[:, None, :]
        else:
            for w in live:
                self.tot[:, w, sel] += contrib

    def _step(self, ts: float, idx: I64, sel: slice | I64, values: F64, valid: BoolArray,
              all_valid: bool, late: bool) -> Step:
        dt = ts - self.last_ts[sel]
        with np.errstate(divide="ignore", invalid="ignore"):
            jump = values - self.last_value[sel]
            if not all_valid:
                jump = np.where(valid, jump, np.nan)
            roc = np.where(dt > 0, jump / dt, np.nan)
        noise_before = np.sqrt(self.diff_var[sel] / 2.0)
        step = Step(idx, values, valid, jump, roc, noise_before)
        if late:
            return step
        if all_valid:
            cols, upd, v, d, dt_v = idx, sel, values, jump, dt
        else:
            cols = upd = idx[valid]
            v, d, dt_v = values[valid], jump[valid], dt[valid]
        moved = cols[d != 0.0]  # NaN counts as a change
        self.changed_ts[moved] = ts
        self.n_changes[moved] += 1.0
        d2 = d * d
        dv = self.diff_var[upd]
        moved_var = dv + NOISE_ALPHA * (d2 - dv)
        if np.isnan(moved_var).any():  # a first difference, or no difference yet
            known = ~np.isnan(d2)
            moved_var = np.where(np.isnan(dv), d2, np.where(known, moved_var, dv))
        self.diff_var[upd] = moved_var
        e = self.ewma[upd]
        alpha = -np.expm1(-dt_v / EWMA_TAU_S)
        ewma = e + alpha * (v - e)
        if np.isnan(ewma).any():  # a first value, or no earlier timestamp
            ewma = np.where(np.isnan(e) | np.isnan(alpha), v, ewma)
        self.ewma[upd] = ewma
        self.last_value[upd] = v
        self.last_ts[upd] = ts
        self.n_seen[upd] += 1.0
        return step

    def aggregates(self, idx: I64, *, extremes: bool = False) -> Aggregates:
        """Statistics of every window for the tags in ``idx``; min and max only when asked
        (``extremes``), NaN otherwise."""
        sel = self.selector(idx)
        s = self.tot[:, :, sel]
        cnt = s[CNT]
        with np.errstate(divide="ignore", invalid="ignore"):
            mean_rel = s[SUM] / cnt
            var = np.maximum(s[SUMSQ] / cnt - mean_rel * mean_rel, 0.0)
            mean_t = s[ST] / cnt
            var_t = s[STT] / cnt - mean_t * mean_t
            cov = s[STV] / cnt - mean_t * mean_rel
            slope = np.where(var_t > 1e-9, cov / var_t, 0.0)
            bad_share = np.where(s[TOT] > 0, s[BAD] / s[TOT], 0.0)
        ref = self.ref[idx]
        if extremes:
            minimum = self.mn[:, :, sel].min(axis=1) + ref
            maximum = self.mx[:, :, sel].max(axis=1) + ref
        else:
            minimum = maximum = np.empty_like(cnt)
            minimum.fill(np.nan)
        return Aggregates(count=cnt, mean=mean_rel + ref, std=np.sqrt(var), minimum=minimum,
                          maximum=maximum, slope_per_s=slope, bad_share=bad_share,
                          samples=s[TOT])

    def since_change_s(self, ts: float, idx: I64) -> F64:
        """Seconds since each tag's value last changed (NaN before its first value)."""
        out: F64 = ts - self.changed_ts[idx]
        return out

    def noise(self, idx: I64) -> F64:
        """Noise level per tag, from the spread of successive differences (robust to drift)."""
        out: F64 = np.sqrt(self.diff_var[idx] / 2.0)
        return out


def as_selector(idx: I64) -> slice | I64:
    """A slice when the columns are contiguous and ascending (the usual case: a poll group's
    tags in a fixed order), which numpy indexes without copying; the index array otherwise."""
    n = idx.shape[0]
    if n and int(idx[-1]) - int(idx[0]) == n - 1 and (n < 3 or bool((np.diff(idx) == 1).all())):
        return slice(int(idx[0]), int(idx[0]) + n)
    return idx


def windows_to_parts(state: TagWindows) -> tuple[dict[str, object], dict[str, npt.NDArray[Any]]]:
    """The state as JSON-able metadata and named arrays (see :mod:`agents.state_codec`)."""
    meta: dict[str, object] = {
        "windows_s": list(state.windows_s), "n_buckets": state.n_buckets, "tags": state.tags,
        "origin": state.origin, "watermark": None if math.isinf(state.watermark)
        else state.watermark,
    }
    n = len(state.tags)
    arrays: dict[str, npt.NDArray[Any]] = {}
    for name in TagWindows.ARRAYS:
        arr = getattr(state, name)
        arrays[name] = arr if name == "bucket_no" else arr[..., :n]
    return meta, arrays


def windows_from_parts(meta: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]) -> TagWindows:
    """Rebuild the state written by :func:`windows_to_parts`."""
    state = TagWindows(tuple(meta["windows_s"]), int(meta["n_buckets"]),
                       capacity=max(len(meta["tags"]), 1))
    state.slots(list(meta["tags"]))
    state.origin = meta["origin"]
    state.watermark = -math.inf if meta["watermark"] is None else float(meta["watermark"])
    n = len(state.tags)
    for name in TagWindows.ARRAYS:
        target = getattr(state, name)
        if name == "bucket_no":
            target[...] = arrays[name]
        else:
            target[..., :n] = arrays[name]
    return state
