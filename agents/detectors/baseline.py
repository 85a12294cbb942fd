"""The baseline detector: what each tag does on this plant, learnt while it is commissioned,
then every reading held against it. It needs no rules file and no trained model.

**Commissioning.** From a tag's first good reading, for ``commission_s`` of event time (4 days
by default) and at least ``min_samples`` readings, the detector only learns:

* the tag's **kind**, unless the tag catalogue or a rule names it: *discrete* (integer values,
  at most ``max_states`` of them, changing in under a third of the readings: states, alarm
  bits and words, fault codes, modes), *counter* (moving one way in at least 90 % of its
  changes, with resets or wrap-arounds: totalisers, operating hours, heartbeats, daily
  sums), or *analog*;
* for analog tags, the band of the value, of its 10-minute and 1-hour means (each learnt once
  the window has been filled) and of its 1-hour slope, the largest 10-minute spread, and the
  longest time the value stood still, at 0 (equipment off) and elsewhere;
* for counters, the band of their rate (increments over about an hour; a reset or wrap adds
  nothing) and the longest time without an increment;
* for discrete tags, the states seen;
* for every tag, the longest run of bad-quality readings.

**Detection.** Afterwards, per reading, each check gives a ratio that is 1.0 at its limit:

* ``value``, ``mean_10m``, ``mean_1h`` (analog): distance outside the learnt band, in units of
  the band's width, over ``margin`` (sudden jumps, offsets, level shifts, slow drifts);
* ``slope_1h`` (integrator, a kind only the catalogue or a rule gives: a gas holder's fill,
  whose level wanders with any small imbalance): the 1-hour slope outside its band, likewise;
* ``spread_10m`` (analog): the 10-minute spread over the largest one seen, over
  ``spread_margin`` (oscillation, erratic sensors, foam);
* ``stuck`` (analog that moved): time without a change over ``stuck_factor`` times the longest
  standstill seen at that kind of value, 0 or not (at least ``min_stuck_s``);
* ``rate`` and ``stalled`` (counters): as ``value`` and ``stuck`` on the rate;
* ``state`` (discrete): a state never seen while commissioning; ``alarm`` (the catalogue's or
  a rule's alarm kind): any value but 0;
* ``missing``: bad quality for longer than ``missing_factor`` times the longest run seen (at
  least ``min_missing_s``).

A reading is flagged when its largest ratio passes 1.0; the check that gave it is the
explanation (``<tag>:baseline.<check>``). Its score is ``r / (1 + r)`` (0.5 at the limit). The
detector decides itself and votes alone. Tags of kind ``ignore`` are learnt but never flagged.
The bands do not move after commissioning: a fault that develops slowly is not learnt as normal.
A plant that changed on purpose is commissioned again (``biogas rules suggest`` shows what was
learnt).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from agents.detectors.voting import DetectorResult
from agents.features.reading import ReadingFeatures
from agents.features.windows import F64, BoolArray

NAME = "baseline"
THRESHOLD = 0.5
I64 = npt.NDArray[np.int64]

KINDS = ("unknown", "analog", "integrator", "counter", "discrete", "alarm", "ignore")
UNKNOWN, ANALOG, INTEGRATOR, COUNTER, DISCRETE, ALARM, IGNORE = range(len(KINDS))
CHECKS = ("value", "mean_10m", "mean_1h", "spread_10m", "stuck", "slope_1h", "rate", "stalled",
          "state", "alarm", "missing")
_C = {name: i for i, name in enumerate(CHECKS)}
#: statistic -> window (seconds) it is learnt after: value, 10-minute mean, 1-hour mean
_LEVEL_WINDOWS = (0.0, 600.0, 3600.0)
RATE_TAU_S = 3600.0
_FLOAT_ARRAYS = ("first_ts", "last_ts", "n", "n_int", "n_changes", "n_up", "n_down", "lo",
                 "hi", "spread_hi", "slope_lo", "slope_hi", "max_run", "max_run_zero",
                 "bad_since", "max_bad", "prev", "rate", "rate_lo", "rate_hi", "inc_ts",
                 "max_stall", "states", "n_states", "direction", "decided_ts")
_INT_ARRAYS = ("kind", "forced")


@dataclass(frozen=True)
class BaselineConfig:
    """How long commissioning lasts and how far outside normal a reading must be."""

    commission_s: float = 4 * 86400.0
    min_samples: int = 200
    margin: float = 0.5
    spread_margin: float = 1.0
    stuck_factor: float = 3.0
    min_stuck_s: float = 1800.0
    rate_margin: float = 1.0
    stall_factor: float = 3.0
    min_stall_s: float = 1800.0
    missing_factor: float = 2.0
    min_missing_s: float = 180.0
    max_states: int = 8


def _grow(arr: npt.NDArray[Any], capacity: int, fill: float) -> npt.NDArray[Any]:
    shape = (capacity, *arr.shape[1:])
    out = np.full(shape, fill, dtype=arr.dtype)
    out[: arr.shape[0]] = arr
    return out


class BaselineBank:
    """The learnt normal of every tag column of one stream."""

    def __init__(self, config: BaselineConfig | None = None) -> None:
        self.config = config or BaselineConfig()
        self.size = 0
        k = self.config.max_states
        self.first_ts: F64 = np.zeros(0)
        self.last_ts: F64 = np.zeros(0)
        self.n: F64 = np.zeros(0)
        self.n_int: F64 = np.zeros(0)
        self.n_changes: F64 = np.zeros(0)
        self.n_up: F64 = np.zeros(0)
        self.n_down: F64 = np.zeros(0)
        self.lo: F64 = np.zeros((0, 3))
        self.hi: F64 = np.zeros((0, 3))
        self.spread_hi: F64 = np.zeros(0)
        #: band of the 1-hour slope (judged for integrators instead of their level)
        self.slope_lo: F64 = np.zeros(0)
        self.slope_hi: F64 = np.zeros(0)
        #: longest standstill of the value while commissioning, away from 0 and at exactly 0
        #: (equipment that is off reads 0 for hours; a live signal standing still is stuck)
        self.max_run: F64 = np.zeros(0)
        self.max_run_zero: F64 = np.zeros(0)
        self.bad_since: F64 = np.zeros(0)
        self.max_bad: F64 = np.zeros(0)
        self.prev: F64 = np.zeros(0)
        #: per column, [up, down]: rate, its band, the last move and the longest stall
        self.rate: F64 = np.zeros((0, 2))
        self.rate_lo: F64 = np.zeros((0, 2))
        self.rate_hi: F64 = np.zeros((0, 2))
        self.inc_ts: F64 = np.zeros((0, 2))
        self.max_stall: F64 = np.zeros((0, 2))
        self.states: F64 = np.zeros((0, k))
        self.n_states: F64 = np.zeros(0)
        self.direction: F64 = np.zeros(0)
        self.decided_ts: F64 = np.zeros(0)
        self.kind: I64 = np.zeros(0, dtype=np.int64)
        self.forced: I64 = np.zeros(0, dtype=np.int64)

    # ---- columns --------------------------------------------------------------------------
    def extend(self, forced: I64) -> None:
        """Columns added since the last call, with the kind the catalogue or rules force on
        each column of the stream (``UNKNOWN``: learn it). Known columns take a changed
        forced kind too (a new rules file after a restart)."""
        n = forced.shape[0]
        if n > self.size:
            fills = {"first_ts": np.nan, "last_ts": np.nan, "decided_ts": np.nan,
                     "lo": np.inf, "hi": -np.inf, "slope_lo": np.inf, "slope_hi": -np.inf,
                     "spread_hi": 0.0, "bad_since": np.nan, "prev": np.nan, "rate": np.nan,
                     "rate_lo": np.inf, "rate_hi": -np.inf, "inc_ts": np.nan,
                     "states": np.nan}
            for name in _FLOAT_ARRAYS:
                setattr(self, name, _grow(getattr(self, name), n, fills.get(name, 0.0)))
            self.kind = _grow(self.kind, n, UNKNOWN)
            self.forced = _grow(self.forced, n, UNKNOWN)
            self.size = n
        changed = self.forced[:n] != forced
        if changed.any():
            self.forced[:n] = forced
            learnt = self.kind[:n] != UNKNOWN
            self.kind[:n] = np.where(changed & learnt & (forced != UNKNOWN), forced,
                                     self.kind[:n])

    # ---- one scan -------------------------------------------------------------------------
    def vote(self, ts: float, feats: ReadingFeatures) -> DetectorResult:
        """Learn from or judge the readings of one scan (features just computed)."""
        cfg = self.config
        step = feats.step
        cols, v, valid = step.idx, step.value, step.valid
        n = cols.shape[0]
        ratio = np.zeros(n)
        check = np.full(n, -1, dtype=np.int64)
        self._missing(ts, cols, valid, ratio, check)
        good_cols = cols[valid]
        first = self.first_ts[good_cols]
        new = np.isnan(first)
        self.first_ts[good_cols[new]] = ts
        age = ts - self.first_ts[cols]
        learning = valid & ((age < cfg.commission_s) | (self.n[cols] < cfg.min_samples))
        learning &= self.kind[cols] == UNKNOWN
        done = valid & ~learning & (self.kind[cols] == UNKNOWN)
        if learning.any():
            self._learn(ts, np.flatnonzero(learning), cols, v, age, feats)
        if done.any():
            self._decide(cols[done])
        judged = np.flatnonzero(valid & ~learning)
        if judged.size:
            with np.errstate(invalid="ignore", divide="ignore"):  # bands never learnt: masked
                self._judge(ts, judged, cols, v, feats, ratio, check)
        self.last_ts[good_cols] = ts
        self.prev[good_cols] = v[valid]
        score = ratio / (1.0 + ratio)
        voted = ratio > 1.0
        labels = tuple(CHECKS[c] if c >= 0 else "" for c in check)
        return DetectorResult(name=NAME, score=score, threshold=np.full(n, THRESHOLD),
                              voted=voted, alone=True, measure=ratio, measure_name="ratio",
                              labels=labels)

    def _missing(self, ts: float, cols: I64, valid: BoolArray, ratio: F64,
                 check: I64) -> None:
        cfg = self.config
        since = self.bad_since[cols]
        ended = valid & ~np.isnan(since)
        if ended.any():  # a bad run ended: learn its length while commissioning
            c = cols[ended]
            learning = self.kind[c] == UNKNOWN
            run = ts - since[ended]
            self.max_bad[c[learning]] = np.maximum(self.max_bad[c[learning]], run[learning])
            self.bad_since[c] = np.nan
        bad = ~valid
        if bad.any():
            c = cols[bad]
            start = np.where(np.isnan(self.bad_since[c]), ts, self.bad_since[c])
            self.bad_since[c] = start
            judged = (self.kind[c] != UNKNOWN) & (self.kind[c] != IGNORE)
            limit = np.maximum(cfg.missing_factor * self.max_bad[c], cfg.min_missing_s)
            r = np.where(judged, (ts - start) / limit, 0.0)
            idx = np.flatnonzero(bad)
            ratio[idx] = r
            check[idx] = np.where(r > 0, _C["missing"], -1)

    def _learn(self, ts: float, rows: I64, cols: I64, v: F64, age: F64,
               feats: ReadingFeatures) -> None:
        c = cols[rows]
        x = v[rows]
        jump = feats.step.jump[rows]
        self.n[c] += 1
        self.n_int[c] += np.abs(x - np.round(x)) < 1e-9
        moved = np.isfinite(jump) & (jump != 0)
        self.n_changes[c] += moved
        self.n_up[c] += moved & (jump > 0)
        self.n_down[c] += moved & (jump < 0)
        agg = feats.agg
        levels = (x, agg.mean[1, rows], agg.mean[2, rows])
        for s, (level, after) in enumerate(zip(levels, _LEVEL_WINDOWS, strict=True)):
            ok = np.isfinite(level) & (age[rows] >= after)
            self.lo[c[ok], s] = np.minimum(self.lo[c[ok], s], level[ok])
            self.hi[c[ok], s] = np.maximum(self.hi[c[ok], s], level[ok])
        spread = agg.std[1, rows]
        ok = np.isfinite(spread) & (age[rows] >= _LEVEL_WINDOWS[1])
        self.spread_hi[c[ok]] = np.maximum(self.spread_hi[c[ok]], spread[ok])
        slope = agg.slope_per_s[2, rows]
        ok = np.isfinite(slope) & (age[rows] >= _LEVEL_WINDOWS[2])
        self.slope_lo[c[ok]] = np.minimum(self.slope_lo[c[ok]], slope[ok])
        self.slope_hi[c[ok]] = np.maximum(self.slope_hi[c[ok]], slope[ok])
        run = feats.since_change_s[rows]
        ok = np.isfinite(run)
        at_zero = ok & (x == 0.0)
        self.max_run_zero[c[at_zero]] = np.maximum(self.max_run_zero[c[at_zero]], run[at_zero])
        ok &= x != 0.0
        self.max_run[c[ok]] = np.maximum(self.max_run[c[ok]], run[ok])
        self._track_rates(ts, c, x, learn=age[rows] >= RATE_TAU_S)
        self._remember_states(c, x)

    def _remember_states(self, c: I64, x: F64) -> None:
        k = self.config.max_states
        for col, value in zip(c.tolist(), x.tolist(), strict=True):
            m = int(self.n_states[col])
            if m > k:
                continue
            row = self.states[col]
            if m and bool((row[:m] == value).any()):
                continue
            if m < k:
                row[m] = value
            self.n_states[col] = m + 1  # k + 1: too many to be discrete

    def _track_rates(self, ts: float, c: I64, x: F64,
                     learn: BoolArray | None = None) -> F64:
        """Move both rates of columns ``c`` (up: increments, down: decrements, each over about
        an hour; a step the other way, a reset or a wrap-around, adds nothing) and, while
        commissioning (``learn``), their bands and longest stalls. Returns the rates."""
        prev = self.prev[c]
        dt = ts - self.last_ts[c]
        ok = np.isfinite(dt) & (dt > 0) & np.isfinite(prev)
        step = np.where(ok, x - prev, 0.0)
        inc = np.stack([np.maximum(step, 0.0), np.maximum(-step, 0.0)], axis=1)
        safe_dt = np.where(ok, dt, 1.0)[:, None]
        alpha = np.where(ok, 1.0 - np.exp(-np.where(ok, dt, 0.0) / RATE_TAU_S), 0.0)[:, None]
        current = self.rate[c]
        current = np.where(np.isfinite(current), current, inc / safe_dt)
        rate = current + alpha * (inc / safe_dt - current)
        self.rate[c] = rate
        since = np.where(np.isfinite(self.inc_ts[c]), ts - self.inc_ts[c], 0.0)
        if learn is not None and learn.any():
            lc = c[learn]
            self.rate_lo[lc] = np.minimum(self.rate_lo[lc], rate[learn])
            self.rate_hi[lc] = np.maximum(self.rate_hi[lc], rate[learn])
            self.max_stall[lc] = np.maximum(self.max_stall[lc], since[learn])
        moved = (inc > 0) | np.isnan(self.inc_ts[c])
        self.inc_ts[c] = np.where(moved, ts, self.inc_ts[c])
        return rate

    def _decide(self, c: I64) -> None:
        """Commissioning of columns ``c`` is over: fix their kind (unless forced)."""
        cfg = self.config
        n = np.maximum(self.n[c], 1.0)
        changes = self.n_changes[c]
        discrete = ((self.n_int[c] == self.n[c]) & (self.n_states[c] <= cfg.max_states)
                    & (changes < n / 3.0))
        up = (changes >= 10) & (self.n_up[c] >= 0.9 * changes)
        down = (changes >= 10) & (self.n_down[c] >= 0.9 * changes)
        kind = np.where(discrete, DISCRETE, np.where(up | down, COUNTER, ANALOG))
        forced = self.forced[c]
        self.kind[c] = np.where(forced != UNKNOWN, forced, kind)
        self.direction[c] = np.where(down & ~up, 1, 0)  # rate column: 0 up, 1 down
        self.decided_ts[c] = np.where(np.isfinite(self.last_ts[c]), self.last_ts[c],
                                      self.first_ts[c] + cfg.commission_s)

    def _judge(self, ts: float, rows: I64, cols: I64, v: F64, feats: ReadingFeatures,
               ratio: F64, check: I64) -> None:
        cfg = self.config
        c = cols[rows]
        x = v[rows]
        kind = self.kind[c]
        best = np.zeros(rows.shape[0])
        which = np.full(rows.shape[0], -1, dtype=np.int64)

        def consider(mask: BoolArray, r: F64, name: str) -> None:
            better = mask & (r > best)
            best[better] = r[better]
            which[better] = _C[name]

        analog = kind == ANALOG
        wandering = kind == INTEGRATOR
        if (analog | wandering).any():
            agg = feats.agg
            levels = (x, agg.mean[1, rows], agg.mean[2, rows])
            for s, (level, name) in enumerate(zip(levels, CHECKS[:3], strict=True)):
                lo, hi = self.lo[c, s], self.hi[c, s]
                width = np.maximum(hi - lo, 1e-9 * np.maximum(np.abs(hi), 1.0))
                out = np.maximum(level - hi, lo - level) / width
                ok = analog & np.isfinite(level) & np.isfinite(lo)
                consider(ok, np.where(ok, out / cfg.margin, 0.0), name)
            # an integrator (a gas holder's fill) has no level of its own: its pace is judged
            slope = agg.slope_per_s[2, rows]
            lo, hi = self.slope_lo[c], self.slope_hi[c]
            width = np.maximum(hi - lo, 1e-12)
            out = np.maximum(slope - hi, lo - slope) / width
            ok = wandering & np.isfinite(slope) & np.isfinite(lo)
            consider(ok, np.where(ok, out / cfg.margin, 0.0), "slope_1h")
            both = analog | wandering
            spread = agg.std[1, rows]
            normal = np.maximum(self.spread_hi[c], 1e-9)
            ok = both & np.isfinite(spread) & (self.spread_hi[c] > 0)
            consider(ok, np.where(ok, (spread / normal - 1.0) / cfg.spread_margin, 0.0),
                     "spread_10m")
            longest = np.where(x == 0.0, self.max_run_zero[c], self.max_run[c])
            limit = np.maximum(cfg.stuck_factor * longest, cfg.min_stuck_s)
            run = feats.since_change_s[rows]
            ok = both & (self.n_changes[c] >= 10) & np.isfinite(run)
            consider(ok, np.where(ok, run / limit, 0.0), "stuck")
        counter = kind == COUNTER
        if counter.any():
            k = np.flatnonzero(counter)
            kc = c[k]
            d = self.direction[kc].astype(np.int64)
            rate = np.full(rows.shape[0], np.nan)
            stall = np.full(rows.shape[0], np.nan)
            lo, hi = np.full(rows.shape[0], np.nan), np.full(rows.shape[0], np.nan)
            longest = np.zeros(rows.shape[0])
            before = self.inc_ts[kc, d]
            rate[k] = self._track_rates(ts, kc, x[k])[np.arange(k.shape[0]), d]
            after = self.inc_ts[kc, d]
            stall[k] = np.where(after == ts, 0.0, ts - before)
            lo[k], hi[k] = self.rate_lo[kc, d], self.rate_hi[kc, d]
            longest[k] = self.max_stall[kc, d]
            width = np.maximum(hi - lo, 1e-9 * np.maximum(np.abs(hi), 1e-9))
            out = np.maximum(rate - hi, lo - rate) / width
            ok = counter & np.isfinite(out)
            consider(ok, np.where(ok, out / cfg.rate_margin, 0.0), "rate")
            limit = np.maximum(cfg.stall_factor * longest, cfg.min_stall_s)
            ok = counter & np.isfinite(stall) & (longest > 0)
            consider(ok, np.where(ok, stall / limit, 0.0), "stalled")
        discrete = kind == DISCRETE
        if discrete.any():
            known = (self.states[c] == x[:, None]).any(axis=1)
            consider(discrete & ~known, np.full(rows.shape[0], 2.0), "state")
        alarm = kind == ALARM
        if alarm.any():
            consider(alarm & (x != 0), np.full(rows.shape[0], 2.0), "alarm")
        better = best > ratio[rows]
        ratio[rows[better]] = best[better]
        check[rows[better]] = which[better]

    # ---- what was learnt --------------------------------------------------------------------
    def learnt(self, col: int) -> dict[str, Any]:
        """What the detector knows of one column (for ``biogas rules suggest``)."""
        kind = KINDS[int(self.kind[col])]
        out: dict[str, Any] = {"kind": kind, "samples": int(self.n[col]),
                               "commissioned_at": float(self.decided_ts[col])}
        if kind == "analog":
            out.update(low=float(self.lo[col, 0]), high=float(self.hi[col, 0]),
                       mean_1h=(float(self.lo[col, 2]), float(self.hi[col, 2])),
                       longest_standstill_s=float(self.max_run[col]),
                       longest_standstill_at_zero_s=float(self.max_run_zero[col]))
        elif kind == "counter":
            d = int(self.direction[col])
            out.update(rate_per_s=(float(self.rate_lo[col, d]), float(self.rate_hi[col, d])),
                       direction=("up", "down")[d],
                       longest_stall_s=float(self.max_stall[col, d]))
        elif kind == "discrete":
            m = min(int(self.n_states[col]), self.config.max_states)
            out["states"] = sorted(float(s) for s in self.states[col, :m])
        return out

    def to_parts(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        arrays: dict[str, npt.NDArray[Any]] = {
            f"base.{k}": getattr(self, k)[: self.size] for k in (*_FLOAT_ARRAYS, *_INT_ARRAYS)}
        return {"size": self.size}, arrays

    @classmethod
    def from_parts(cls, meta: dict[str, Any], arrays: dict[str, Any],
                   config: BaselineConfig | None = None) -> BaselineBank:
        bank = cls(config)
        size = int(meta["size"])
        for k in (*_FLOAT_ARRAYS, *_INT_ARRAYS):
            arr = np.asarray(arrays[f"base.{k}"]).copy()
            if arr.shape[0] != size:
                raise ValueError(f"baseline state of {size} columns has {k} of {arr.shape}")
            setattr(bank, k, arr)
        if bank.states.shape[1:] != (bank.config.max_states,):
            raise ValueError(f"baseline states of shape {bank.states.shape} do not match "
                             f"max_states {bank.config.max_states}")
        bank.size = size
        return bank
