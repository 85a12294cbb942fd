"""Compiled step of the baseline detector (see :mod:`agents.detectors.baseline`): one scan's
readings, each through its tag column's state, learning while the column is commissioned and
judging afterwards. The arrays are :class:`~agents.detectors.baseline.BaselineBank`'s."""

from __future__ import annotations

import math

from agents.jit import Arr, kernel

# kinds (baseline.KINDS) and checks (baseline.CHECKS), by index
UNKNOWN, ANALOG, INTEGRATOR, COUNTER, DISCRETE, ALARM, IGNORE = range(7)
VALUE, MEAN_10M, MEAN_1H, SPREAD_10M, STUCK, SLOPE_1H, RATE, STALLED, STATE, ALARMED, \
    MISSING = range(11)
RATE_TAU_S = 3600.0
_WINDOWS_AFTER = (0.0, 600.0, 3600.0)  # a level statistic is learnt once its window filled


@kernel
def _track_rates(col: int, ts: float, x: float, learn: bool, prev: Arr, last_ts: Arr,
                 rate: Arr, rate_lo: Arr, rate_hi: Arr, inc_ts: Arr, max_stall: Arr) -> None:
    """Move both rates of ``col`` (up: increments, down: decrements, each over about an hour;
    a step the other way, a reset or a wrap-around, adds nothing) and, while ``learn``, their
    bands and longest stalls."""
    p = prev[col]
    dt = ts - last_ts[col]
    ok = math.isfinite(dt) and dt > 0.0 and math.isfinite(p)
    step = x - p if ok else 0.0
    alpha = 1.0 - math.exp(-dt / RATE_TAU_S) if ok else 0.0
    for d in range(2):
        inc = max(step, 0.0) if d == 0 else max(-step, 0.0)
        step_rate = inc / dt if ok else 0.0
        current = rate[col, d]
        if not math.isfinite(current):
            current = step_rate
        r = current + alpha * (step_rate - current)
        rate[col, d] = r
        since = ts - inc_ts[col, d] if math.isfinite(inc_ts[col, d]) else 0.0
        if learn:
            rate_lo[col, d] = min(rate_lo[col, d], r)
            rate_hi[col, d] = max(rate_hi[col, d], r)
            max_stall[col, d] = max(max_stall[col, d], since)
        if inc > 0.0 or math.isnan(inc_ts[col, d]):
            inc_ts[col, d] = ts


@kernel
def _edges(col: int, s: int, level: float, moved: bool, edge_tol: float, lo: Arr, hi: Arr,
           at_lo: Arr, at_hi: Arr) -> None:
    """Widen band ``s`` of ``col`` to ``level`` and count the readings that sat at either
    edge: within ``edge_tol`` of the band's width, counted only when the value itself moved
    (a held lab value is not a limit). An edge that moves further than that starts anew."""
    old_lo, old_hi = lo[col, s], hi[col, s]
    new_lo, new_hi = min(old_lo, level), max(old_hi, level)
    lo[col, s], hi[col, s] = new_lo, new_hi
    tol = edge_tol * (new_hi - new_lo) if math.isfinite(new_hi - new_lo) else 0.0
    if new_hi - old_hi > tol or not math.isfinite(old_hi):
        at_hi[col, s] = 0.0
    if old_lo - new_lo > tol or not math.isfinite(old_lo):
        at_lo[col, s] = 0.0
    if moved and new_hi - level <= tol:
        at_hi[col, s] += 1.0
    if moved and level - new_lo <= tol:
        at_lo[col, s] += 1.0


@kernel
def _edge_ratio(level: float, lo: float, hi: float, at_lo: float, at_hi: float, count: float,
                edge_tol: float, edge_share: float, edge_margin: float,
                accuracy: float) -> float:
    """How far ``level`` lies beyond an edge the tag sat at while commissioning (a
    controller's or an actuator's limit: a heating circuit at its supply set point, a heat
    source at full power), in ``edge_margin`` tolerances, or ``accuracy`` of the edge's value
    when that is more (0 inside; 0 when no edge held at least ``edge_share`` of the
    readings)."""
    limit = edge_margin * edge_tol * (hi - lo)
    if not (limit > 0.0) or count <= 0.0:
        return 0.0
    r = 0.0
    if at_hi >= edge_share * count and level > hi:
        r = (level - hi) / max(limit, accuracy * abs(hi))
    if at_lo >= edge_share * count and level < lo:
        r = max(r, (lo - level) / max(limit, accuracy * abs(lo)))
    return r


@kernel
def _learn(col: int, ts: float, age: float, x: float, jump: float, m10: float, m60: float,
           s10: float, slope: float, run: float, max_states: int, n: Arr, n_int: Arr,
           n_changes: Arr, n_up: Arr, n_down: Arr, lo: Arr, hi: Arr, at_lo: Arr, at_hi: Arr,
           edge_tol: float, spread_hi: Arr, slope_lo: Arr, slope_hi: Arr, max_run: Arr,
           max_run_zero: Arr, prev: Arr, last_ts: Arr, rate: Arr, rate_lo: Arr, rate_hi: Arr,
           inc_ts: Arr, max_stall: Arr, states: Arr, n_states: Arr) -> None:
    n[col] += 1.0
    if abs(x - round(x)) < 1e-9:
        n_int[col] += 1.0
    if math.isfinite(jump) and jump != 0.0:
        n_changes[col] += 1.0
        if jump > 0.0:
            n_up[col] += 1.0
        else:
            n_down[col] += 1.0
    for s in range(3):
        level = x if s == 0 else (m10 if s == 1 else m60)
        if math.isfinite(level) and age >= _WINDOWS_AFTER[s]:
            _edges(col, s, level, math.isfinite(jump) and jump != 0.0, edge_tol, lo, hi,
                   at_lo, at_hi)
    if math.isfinite(s10) and age >= _WINDOWS_AFTER[1]:
        spread_hi[col] = max(spread_hi[col], s10)
    if math.isfinite(slope) and age >= _WINDOWS_AFTER[2]:
        slope_lo[col] = min(slope_lo[col], slope)
        slope_hi[col] = max(slope_hi[col], slope)
    if math.isfinite(run):
        if x == 0.0:
            max_run_zero[col] = max(max_run_zero[col], run)
        else:
            max_run[col] = max(max_run[col], run)
    _track_rates(col, ts, x, age >= RATE_TAU_S, prev, last_ts, rate, rate_lo, rate_hi, inc_ts,
                 max_stall)
    m = int(n_states[col])
    if m <= max_states:
        for j in range(m):
            if states[col, j] == x:
                return
        if m < max_states:
            states[col, m] = x
        n_states[col] = m + 1  # max_states + 1: too many to be discrete


@kernel
def _decide(col: int, commission_s: float, max_states: int, n: Arr, n_int: Arr,
            n_changes: Arr, n_up: Arr, n_down: Arr, n_states: Arr, first_ts: Arr,
            last_ts: Arr, direction: Arr, decided_ts: Arr, kind: Arr, forced: Arr) -> None:
    """Commissioning of ``col`` is over: fix its kind (unless forced)."""
    count = max(n[col], 1.0)
    changes = n_changes[col]
    discrete = (n_int[col] == n[col] and n_states[col] <= max_states
                and changes < count / 3.0)
    up = changes >= 10.0 and n_up[col] >= 0.9 * changes
    down = changes >= 10.0 and n_down[col] >= 0.9 * changes
    k = DISCRETE if discrete else (COUNTER if up or down else ANALOG)
    kind[col] = forced[col] if forced[col] != UNKNOWN else k
    direction[col] = 1.0 if down and not up else 0.0
    decided_ts[col] = last_ts[col] if math.isfinite(last_ts[col]) else (
        first_ts[col] + commission_s)


@kernel
def _band(value: float, lo: float, hi: float, floor: float) -> float:
    """How far ``value`` lies outside [lo, hi], in widths of the band (0 inside)."""
    width = max(hi - lo, floor)
    return max(value - hi, lo - value) / width


@kernel
def _level_ratio(level: float, lo: float, hi: float, margin: float, accuracy: float) -> float:
    """How far ``level`` lies outside [lo, hi] in ``margin`` widths of the band, or in
    ``accuracy`` of the crossed end's value when that is more (0 inside): a difference no
    instrument could resolve is never a finding."""
    floor = 1e-9 * max(abs(hi), 1.0)
    allowance = margin * max(hi - lo, floor)
    if level > hi:
        return (level - hi) / max(allowance, accuracy * abs(hi))
    if level < lo:
        return (lo - level) / max(allowance, accuracy * abs(lo))
    return 0.0


@kernel
def baseline_step(ts: float, idx: Arr, value: Arr, valid: Arr, jump: Arr, m10: Arr, m60: Arr,
                  s10: Arr, slope: Arr, since_change: Arr, params: Arr, max_states: int,
                  first_ts: Arr, last_ts: Arr, n: Arr, n_int: Arr, n_changes: Arr, n_up: Arr,
                  n_down: Arr, lo: Arr, hi: Arr, at_lo: Arr, at_hi: Arr, spread_hi: Arr,
                  slope_lo: Arr, slope_hi: Arr,
                  max_run: Arr, max_run_zero: Arr, bad_since: Arr, max_bad: Arr, prev: Arr,
                  rate: Arr, rate_lo: Arr, rate_hi: Arr, inc_ts: Arr, max_stall: Arr,
                  states: Arr, n_states: Arr, direction: Arr, decided_ts: Arr, kind: Arr,
                  forced: Arr, ratio: Arr, check: Arr) -> None:
    """Learn from or judge each reading of a scan taken at ``ts``; fills ``ratio`` (1.0 at a
    check's limit) and ``check`` (the check that gave it, -1 when none). ``params``:
    commission_s, min_samples, margin, spread_margin, stuck_factor, min_stuck_s, rate_margin,
    stall_factor, min_stall_s, missing_factor, min_missing_s, edge_tol, edge_share,
    edge_margin, accuracy."""
    commission_s, min_samples, margin, spread_margin = params[0], params[1], params[2], params[3]
    stuck_factor, min_stuck_s, rate_margin = params[4], params[5], params[6]
    stall_factor, min_stall_s, missing_factor, min_missing_s = (params[7], params[8], params[9],
                                                                 params[10])
    edge_tol, edge_share, edge_margin, accuracy = params[11], params[12], params[13], params[14]
    for i in range(idx.shape[0]):
        col = idx[i]
        x = value[i]
        ratio[i] = 0.0
        check[i] = -1
        since = bad_since[col]
        if not valid[i]:
            if math.isnan(since):
                since = ts
                bad_since[col] = ts
            if kind[col] != UNKNOWN and kind[col] != IGNORE:
                r = (ts - since) / max(missing_factor * max_bad[col], min_missing_s)
                ratio[i] = r
                if r > 0.0:
                    check[i] = MISSING
            continue
        if not math.isnan(since):  # a bad run ended: learnt while commissioning
            if kind[col] == UNKNOWN:
                max_bad[col] = max(max_bad[col], ts - since)
            bad_since[col] = math.nan
        if math.isnan(first_ts[col]):
            first_ts[col] = ts
        age = ts - first_ts[col]
        judge = True
        if kind[col] == UNKNOWN:
            if age < commission_s or n[col] < min_samples:
                _learn(col, ts, age, x, jump[i], m10[i], m60[i], s10[i], slope[i],
                       since_change[i], max_states, n, n_int, n_changes, n_up, n_down, lo, hi,
                       at_lo, at_hi, edge_tol, spread_hi, slope_lo, slope_hi, max_run,
                       max_run_zero, prev, last_ts, rate, rate_lo, rate_hi, inc_ts, max_stall,
                       states, n_states)
                judge = False
            else:
                _decide(col, commission_s, max_states, n, n_int, n_changes, n_up, n_down,
                        n_states, first_ts, last_ts, direction, decided_ts, kind, forced)
        if judge:
            best = 0.0
            which = -1
            k = kind[col]
            if k == ANALOG:
                for s in range(3):
                    level = x if s == 0 else (m10[i] if s == 1 else m60[i])
                    if math.isfinite(level) and math.isfinite(lo[col, s]):
                        r = max(_level_ratio(level, lo[col, s], hi[col, s], margin,
                                             accuracy),
                                _edge_ratio(level, lo[col, s], hi[col, s], at_lo[col, s],
                                            at_hi[col, s], n[col], edge_tol, edge_share,
                                            edge_margin, accuracy))
                        if r > best:
                            best, which = r, s  # VALUE, MEAN_10M, MEAN_1H
            if k == INTEGRATOR and math.isfinite(slope[i]) and math.isfinite(slope_lo[col]):
                r = _band(slope[i], slope_lo[col], slope_hi[col], 1e-12) / margin
                if r > best:
                    best, which = r, SLOPE_1H
            if k in (ANALOG, INTEGRATOR):
                if math.isfinite(s10[i]) and spread_hi[col] > 0.0:
                    r = (s10[i] / max(spread_hi[col], 1e-9) - 1.0) / spread_margin
                    if r > best:
                        best, which = r, SPREAD_10M
                run = since_change[i]
                if n_changes[col] >= 10.0 and math.isfinite(run):
                    longest = max_run_zero[col] if x == 0.0 else max_run[col]
                    r = run / max(stuck_factor * longest, min_stuck_s)
                    if r > best:
                        best, which = r, STUCK
            elif k == COUNTER:
                d = int(direction[col])
                before = inc_ts[col, d]
                _track_rates(col, ts, x, False, prev, last_ts, rate, rate_lo, rate_hi, inc_ts,
                             max_stall)
                stall = 0.0 if inc_ts[col, d] == ts else ts - before
                floor = 1e-9 * max(abs(rate_hi[col, d]), 1e-9)
                out = _band(rate[col, d], rate_lo[col, d], rate_hi[col, d], floor)
                if math.isfinite(out):
                    r = out / rate_margin
                    if r > best:
                        best, which = r, RATE
                longest = max_stall[col, d]
                if math.isfinite(stall) and longest > 0.0:
                    r = stall / max(stall_factor * longest, min_stall_s)
                    if r > best:
                        best, which = r, STALLED
            elif k == DISCRETE:
                known = False
                for j in range(states.shape[1]):
                    if states[col, j] == x:
                        known = True
                        break
                if not known and best < 2.0:
                    best, which = 2.0, STATE
            elif k == ALARM and x != 0.0 and best < 2.0:
                best, which = 2.0, ALARMED
            if best > ratio[i]:
                ratio[i] = best
                check[i] = which
        last_ts[col] = ts
        prev[col] = x
