"""Compiled kernels of :class:`agents.features.windows.TagWindows`: add one scan's readings to
the bucketed sums and move the per-tag trackers, and the window statistics of some tags.

They loop over the readings of a scan with the arithmetic of the vectorised numpy they replace
(same operations, same order, NaN handled the same way); see :mod:`agents.jit`.
"""

from __future__ import annotations

import math

import numpy as np

from agents.jit import Arr, kernel

#: Rows of the accumulator: count, sum, sum of squares, Σt, Σt², Σtv, bad samples, all samples.
N_SUMS = 8
CNT, SUM, SUMSQ, ST, STT, STV, BAD, TOT = range(N_SUMS)
EWMA_TAU_S = 60.0
NOISE_ALPHA = 0.02
_NAN = math.nan


@kernel
def roll_buckets(t: float, width: Arr, bucket_no: Arr, acc: Arr, tot: Arr, mn: Arr,
                 mx: Arr, slot: Arr) -> None:
    """Move each window's current bucket to event time ``t`` (clearing the buckets it passes
    and re-summing the window's totals), and set ``slot`` (per window) to the bucket that
    ``t`` falls in, or -1 when it is older than every bucket (a late sample)."""
    n_sums, n_w, n_b, cap = acc.shape
    for w in range(n_w):
        k = math.floor(t / width[w])
        last = bucket_no[w]
        if k > last:
            n_clear = n_b if last < 0 else min(k - last, n_b)
            for j in range(k - n_clear + 1, k + 1):
                b = j % n_b
                for s in range(n_sums):
                    for c in range(cap):
                        acc[s, w, b, c] = 0.0
                for c in range(cap):
                    mn[w, b, c] = np.inf
                    mx[w, b, c] = -np.inf
            for s in range(n_sums):
                for c in range(cap):
                    total = acc[s, w, 0, c]
                    for b in range(1, n_b):
                        total += acc[s, w, b, c]
                    tot[s, w, c] = total
            bucket_no[w] = k
            last = k
        slot[w] = k % n_b if k > last - n_b else -1


@kernel
def add_scan(ts: float, t: float, late: bool, idx: Arr, values: Arr, good: Arr, slot: Arr,
             acc: Arr, tot: Arr, mn: Arr, mx: Arr, ref: Arr, last_value: Arr, last_ts: Arr,
             changed_ts: Arr, ewma: Arr, diff_var: Arr, n_seen: Arr, n_changes: Arr,
             valid: Arr, jump: Arr, roc: Arr, noise_before: Arr) -> None:
    """Add the readings ``values`` (columns ``idx``, ``good`` quality flags) taken at event
    time ``ts`` (``t`` after the windows' origin) to the windows' ``slot`` buckets, then
    move the trackers unless the scan is ``late``. Fills ``valid``, ``jump``, ``roc`` and
    ``noise_before`` (one entry per reading)."""
    n_w = slot.shape[0]
    tt = t * t
    for i in range(idx.shape[0]):
        col = idx[i]
        v = values[i]
        ok = good[i] and math.isfinite(v)
        valid[i] = ok
        if ok and math.isnan(ref[col]):
            ref[col] = v
        rel = v - ref[col] if ok else 0.0
        cnt = 1.0 if ok else 0.0
        bad = 0.0 if good[i] else 1.0
        masked = rel if ok else _NAN
        for w in range(n_w):
            b = slot[w]
            if b < 0:
                continue
            acc[CNT, w, b, col] += cnt
            acc[SUM, w, b, col] += rel
            acc[SUMSQ, w, b, col] += rel * rel
            acc[ST, w, b, col] += cnt * t
            acc[STT, w, b, col] += cnt * tt
            acc[STV, w, b, col] += rel * t
            acc[BAD, w, b, col] += bad
            acc[TOT, w, b, col] += 1.0
            if not math.isnan(masked):  # fmin/fmax: NaN leaves the extreme as it is
                if math.isnan(mn[w, b, col]) or masked < mn[w, b, col]:
                    mn[w, b, col] = masked
                if math.isnan(mx[w, b, col]) or masked > mx[w, b, col]:
                    mx[w, b, col] = masked
            tot[CNT, w, col] += cnt
            tot[SUM, w, col] += rel
            tot[SUMSQ, w, col] += rel * rel
            tot[ST, w, col] += cnt * t
            tot[STT, w, col] += cnt * tt
            tot[STV, w, col] += rel * t
            tot[BAD, w, col] += bad
            tot[TOT, w, col] += 1.0
        dt = ts - last_ts[col]
        d = v - last_value[col] if ok else _NAN
        jump[i] = d
        roc[i] = d / dt if dt > 0 else _NAN
        noise_before[i] = math.sqrt(diff_var[col] / 2.0)
        if late or not ok:
            continue
        if d != 0.0:  # NaN counts as a change
            changed_ts[col] = ts
            n_changes[col] += 1.0
        d2 = d * d
        dv = diff_var[col]
        moved = dv + NOISE_ALPHA * (d2 - dv)
        if math.isnan(dv):  # a first difference
            moved = d2
        elif math.isnan(d2):  # no difference yet
            moved = dv
        diff_var[col] = moved
        e = ewma[col]
        alpha = -math.expm1(-dt / EWMA_TAU_S)
        new = e + alpha * (v - e)
        if math.isnan(e) or math.isnan(alpha):  # a first value, or no earlier timestamp
            new = v
        ewma[col] = new
        last_value[col] = v
        last_ts[col] = ts
        n_seen[col] += 1.0


@kernel
def window_stats(tot: Arr, ref: Arr, idx: Arr, count: Arr, mean: Arr, std: Arr, slope: Arr,
                 bad_share: Arr, samples: Arr) -> None:
    """Count, mean, std, least-squares slope per second, bad share and samples of every window
    for the columns ``idx`` (outputs are ``n_windows x len(idx)``)."""
    n_w = tot.shape[1]
    for i in range(idx.shape[0]):
        col = idx[i]
        r = ref[col]
        for w in range(n_w):
            cnt = tot[CNT, w, col]
            mean_rel = tot[SUM, w, col] / cnt
            var = tot[SUMSQ, w, col] / cnt - mean_rel * mean_rel
            if var < 0.0:  # np.maximum(var, 0.0): NaN stays NaN
                var = 0.0
            mean_t = tot[ST, w, col] / cnt
            var_t = tot[STT, w, col] / cnt - mean_t * mean_t
            cov = tot[STV, w, col] / cnt - mean_t * mean_rel
            total = tot[TOT, w, col]
            count[w, i] = cnt
            mean[w, i] = mean_rel + r
            std[w, i] = math.sqrt(var)
            slope[w, i] = cov / var_t if var_t > 1e-9 else 0.0
            bad_share[w, i] = tot[BAD, w, col] / total if total > 0 else 0.0
            samples[w, i] = total


@kernel
def _fmax(a: float, b: float) -> float:
    """np.fmax: the larger, ignoring a NaN."""
    if math.isnan(a):
        return b
    if math.isnan(b):
        return a
    return a if a >= b else b



@kernel
def model_inputs(value: Arr, valid: Arr, jump: Arr, noise: Arr, mean: Arr, std: Arr,
                 slope: Arr, bad_share: Arr, mid_s: float, clip: float, x: Arr,
                 scale: Arr) -> None:
    """The model inputs (rows of ``x``, see ``MODEL_FEATURES``) of each reading from its
    windows' statistics (short, mid and long window: rows 0, 1, 2) and its step, NaN as 0,
    clipped to ``[-clip, clip]``; ``scale`` gets the long window's spread."""
    for i in range(value.shape[0]):
        mean_l = mean[2, i]
        std_l = std[2, i]
        eps = 1e-6 * (_fmax(abs(mean_l), 0.0) + 1.0)
        s = _fmax(_fmax(std_l, noise[i]), eps)
        scale[i] = s
        x[i, 0] = (value[i] - mean_l) / s if valid[i] else 0.0
        x[i, 1] = (mean[0, i] - mean_l) / s
        x[i, 2] = np.log((std[0, i] + eps) / (std_l + eps))
        x[i, 3] = jump[i] / _fmax(noise[i], eps)
        x[i, 4] = slope[1, i] * mid_s / _fmax(noise[i], eps)
        x[i, 5] = bad_share[1, i]
        for j in range(6):
            v = x[i, j]
            if math.isnan(v):
                v = 0.0
            x[i, j] = min(max(v, -clip), clip)
