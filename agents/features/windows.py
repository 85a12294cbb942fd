"""Rolling event-time windows per tag for one scan stream, as bucketed sums in numpy arrays.

Each window of ``W`` seconds is split into ``n_buckets`` buckets of ``W / n_buckets`` seconds,
aligned to the hour. A window's statistics are the sums over its buckets, so a window covers
between ``W`` and ``W + W / n_buckets`` seconds of event time (the scan's ``source_ts``).
Values are stored relative to the tag's first value so that large counters keep their precision.
Every tag of a stream has one column; a scan is added by two compiled kernels
(:mod:`agents.features.window_kernels`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from agents.features.window_kernels import N_SUMS, add_scan, roll_buckets, window_stats

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

WINDOWS_S: tuple[int, ...] = (60, 600, 3600)
N_BUCKETS = 12


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
        #: per window: the bucket the scan being added falls in (-1: too old)
        self._slot: I64 = np.zeros(n_w, dtype=np.int64)

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
        late = ts < self.watermark
        self.watermark = max(self.watermark, ts)
        slot = self._slot
        roll_buckets(t, self.width, self.bucket_no, self.acc, self.tot, self.mn, self.mx, slot)
        n = idx.shape[0]
        valid = np.empty(n, dtype=np.bool_)
        jump, roc, noise_before = np.empty(n), np.empty(n), np.empty(n)
        add_scan(ts, t, late, idx, values, good, slot, self.acc, self.tot, self.mn, self.mx,
                 self.ref, self.last_value, self.last_ts, self.changed_ts, self.ewma,
                 self.diff_var, self.n_seen, self.n_changes, valid, jump, roc, noise_before)
        return Step(idx, values, valid, jump, roc, noise_before)

    def aggregates(self, idx: I64, *, extremes: bool = False) -> Aggregates:
        """Statistics of every window for the tags in ``idx``; min and max only when asked
        (``extremes``), NaN otherwise."""
        shape = (len(self.windows_s), idx.shape[0])
        count, mean, std = np.empty(shape), np.empty(shape), np.empty(shape)
        slope, bad_share, samples = np.empty(shape), np.empty(shape), np.empty(shape)
        window_stats(self.tot, self.ref, idx, count, mean, std, slope, bad_share, samples)
        if extremes:
            sel = self.selector(idx)
            ref = self.ref[idx]
            minimum = self.mn[:, :, sel].min(axis=1) + ref
            maximum = self.mx[:, :, sel].max(axis=1) + ref
        else:
            minimum = maximum = np.empty(shape)
            minimum.fill(np.nan)
        return Aggregates(count=count, mean=mean, std=std, minimum=minimum, maximum=maximum,
                          slope_per_s=slope, bad_share=bad_share, samples=samples)

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
