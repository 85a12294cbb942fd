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
  the window has been filled) and of its 1-hour slope, how many moving readings sat at each
  edge of each band (within ``edge_tolerance`` of its width), the largest 10-minute spread,
  and the longest time the value stood still, at 0 (equipment off) and elsewhere;
* for counters, the band of their rate (increments over about an hour; a reset or wrap adds
  nothing) and the longest time without an increment;
* for discrete tags, the states seen;
* for every tag, the longest run of bad-quality readings.

**Detection.** Afterwards, per reading, each check gives a ratio that is 1.0 at its limit:

* ``value``, ``mean_10m``, ``mean_1h`` (analog): distance outside the learnt band, in units of
  the band's width, over ``margin`` (sudden jumps, offsets, level shifts, slow drifts). An
  edge the tag sat at for at least ``edge_share`` of its readings is a limit of the process
  (a heating circuit at its supply set point, a heat source at full power, a flow at 0):
  beyond it the allowance is ``edge_margin`` edge tolerances, not the band's margin (an
  offset that stays inside a wide on/off swing but passes the set point);
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

from agents.detectors.baseline_kernels import baseline_step
from agents.detectors.voting import DetectorResult, decision_thresholds
from agents.features.reading import ReadingFeatures
from agents.features.windows import F64

NAME = "baseline"
I64 = npt.NDArray[np.int64]

KINDS = ("unknown", "analog", "integrator", "counter", "discrete", "alarm", "ignore")
UNKNOWN, ANALOG, INTEGRATOR, COUNTER, DISCRETE, ALARM, IGNORE = range(len(KINDS))
CHECKS = ("value", "mean_10m", "mean_1h", "spread_10m", "stuck", "slope_1h", "rate", "stalled",
          "state", "alarm", "missing")
#: every per-column float array: name -> (columns per tag: 0 for one, -1 for the states;
#: the value of a column not learnt yet)
_FLOAT_ARRAYS: dict[str, tuple[int, float]] = {
    "first_ts": (0, np.nan), "last_ts": (0, np.nan), "n": (0, 0.0), "n_int": (0, 0.0),
    "n_changes": (0, 0.0), "n_up": (0, 0.0), "n_down": (0, 0.0),
    "lo": (3, np.inf), "hi": (3, -np.inf), "at_lo": (3, 0.0), "at_hi": (3, 0.0),
    "spread_hi": (0, 0.0),
    "slope_lo": (0, np.inf), "slope_hi": (0, -np.inf), "max_run": (0, 0.0),
    "max_run_zero": (0, 0.0), "bad_since": (0, np.nan), "max_bad": (0, 0.0),
    "prev": (0, np.nan), "rate": (2, np.nan), "rate_lo": (2, np.inf), "rate_hi": (2, -np.inf),
    "inc_ts": (2, np.nan), "max_stall": (2, 0.0), "states": (-1, np.nan), "n_states": (0, 0.0),
    "direction": (0, 0.0), "decided_ts": (0, np.nan)}
_INT_ARRAYS = ("kind", "forced")
#: arrays a snapshot written before they existed lacks: restored with their fill (a tag
#: commissioned then has no edges to hold, only its bands)
_ADDED_ARRAYS = ("at_lo", "at_hi")


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
    edge_tolerance: float = 0.02
    edge_share: float = 0.05
    edge_margin: float = 2.0
    #: the smallest difference that counts beyond a band or an edge, as a share of the
    #: crossed end's value: 0.5 % of the reading, a common accuracy class of flow meters,
    #: power meters and transmitters (a 245 m3/h CHP gas flow 0.2 m3/h below its tight
    #: full-load band is no finding)
    accuracy: float = 0.005


def _grow(arr: npt.NDArray[Any], capacity: int, fill: float) -> npt.NDArray[Any]:
    shape = (capacity, *arr.shape[1:])
    out = np.full(shape, fill, dtype=arr.dtype)
    out[: arr.shape[0]] = arr
    return out


class BaselineBank:
    """The learnt normal of every tag column of one stream (one row per column)."""

    first_ts: F64  # first good reading: commissioning starts
    last_ts: F64
    n: F64  # readings learnt from
    n_int: F64  # of them integer-valued
    n_changes: F64
    n_up: F64
    n_down: F64
    lo: F64  # (columns, 3): bands of the value, the 10-minute and the 1-hour mean
    hi: F64
    #: (columns, 3): readings that sat at the low and the high edge of each band
    at_lo: F64
    at_hi: F64
    spread_hi: F64  # largest 10-minute spread
    slope_lo: F64  # band of the 1-hour slope (judged for integrators instead of their level)
    slope_hi: F64
    #: longest standstill of the value while commissioning, away from 0 and at exactly 0
    #: (equipment that is off reads 0 for hours; a live signal standing still is stuck)
    max_run: F64
    max_run_zero: F64
    bad_since: F64
    max_bad: F64
    prev: F64
    #: (columns, 2), [up, down]: rate, its band, the last move and the longest stall
    rate: F64
    rate_lo: F64
    rate_hi: F64
    inc_ts: F64
    max_stall: F64
    states: F64  # (columns, max_states): the discrete states seen
    n_states: F64
    direction: F64  # the rate column a counter uses: 0 up, 1 down
    decided_ts: F64
    kind: I64
    forced: I64

    def __init__(self, config: BaselineConfig | None = None) -> None:
        self.config = cfg = config or BaselineConfig()
        self._params = np.array([cfg.commission_s, cfg.min_samples, cfg.margin,
                                 cfg.spread_margin, cfg.stuck_factor, cfg.min_stuck_s,
                                 cfg.rate_margin, cfg.stall_factor, cfg.min_stall_s,
                                 cfg.missing_factor, cfg.min_missing_s, cfg.edge_tolerance,
                                 cfg.edge_share, cfg.edge_margin, cfg.accuracy])
        self.size = 0
        for name, (width, _) in _FLOAT_ARRAYS.items():
            width = cfg.max_states if width < 0 else width
            setattr(self, name, np.zeros((0, width) if width else 0))
        for name in _INT_ARRAYS:
            setattr(self, name, np.zeros(0, dtype=np.int64))

    # ---- columns --------------------------------------------------------------------------
    def extend(self, forced: I64) -> None:
        """Columns added since the last call, with the kind the catalogue or rules force on
        each column of the stream (``UNKNOWN``: learn it). Known columns take a changed
        forced kind too (a new rules file after a restart)."""
        n = forced.shape[0]
        if n > self.size:
            for name, (_, fill) in _FLOAT_ARRAYS.items():
                setattr(self, name, _grow(getattr(self, name), n, fill))
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
        step, agg = feats.step, feats.agg
        n = step.idx.shape[0]
        ratio = np.empty(n)
        check = np.empty(n, dtype=np.int64)
        baseline_step(ts, step.idx, step.value, step.valid, step.jump, agg.mean[1], agg.mean[2],
                      agg.std[1], agg.slope_per_s[2], feats.since_change_s, self._params,
                      self.config.max_states, self.first_ts, self.last_ts, self.n, self.n_int,
                      self.n_changes, self.n_up, self.n_down, self.lo, self.hi, self.at_lo,
                      self.at_hi, self.spread_hi, self.slope_lo, self.slope_hi, self.max_run,
                      self.max_run_zero,
                      self.bad_since, self.max_bad, self.prev, self.rate, self.rate_lo,
                      self.rate_hi, self.inc_ts, self.max_stall, self.states, self.n_states,
                      self.direction, self.decided_ts, self.kind, self.forced, ratio, check)
        voted = ratio > 1.0
        labels = tuple(CHECKS[c] if c >= 0 else "" for c in check.tolist()) \
            if voted.any() else None
        return DetectorResult(name=NAME, score=ratio / (1.0 + ratio),
                              threshold=decision_thresholds(n), voted=voted, alone=True,
                              measure=ratio, measure_name="ratio", labels=labels)

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
            if f"base.{k}" not in arrays and k in _ADDED_ARRAYS:
                width, fill = _FLOAT_ARRAYS[k]
                setattr(bank, k, np.full((size, width), fill))
                continue
            arr = np.asarray(arrays[f"base.{k}"]).copy()
            if arr.shape[0] != size:
                raise ValueError(f"baseline state of {size} columns has {k} of {arr.shape}")
            setattr(bank, k, arr)
        if bank.states.shape[1:] != (bank.config.max_states,):
            raise ValueError(f"baseline states of shape {bank.states.shape} do not match "
                             f"max_states {bank.config.max_states}")
        bank.size = size
        return bank
