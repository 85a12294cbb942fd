"""Process checks: what a plant engineer knows about derived signals that their learnt bands
cannot say (see :mod:`agents.features.derived`).

* ``circulation`` (``derived:heating.delta_t``): the 10-minute mean of supply minus return
  below ``CIRCULATION_DT_K`` (0.5 K) on a circuit whose 10-minute mean never came within
  twice that while commissioning: the circuit stopped carrying heat (pump, valve or heat
  source failed; DOMAIN.md 4.1). Its band cannot show it: heating on and off make the
  normal difference bimodal (about 2 K to 20 K here), so 0 K lies inside the band's margin.
* ``gas_balance`` (the tag with role ``gas.holder_fill``): the holder fills at the net flow
  (produced minus burnt, ``derived:gas.net_flow``) over its capacity, DOMAIN.md 7's gas
  balance. Both are summed over about an hour (the fill's changes, the net flow's volume).
  While the holder is commissioned the check fits the capacity (least squares through 0) and
  the spread of what the fit leaves; afterwards a holder losing more than ``BALANCE_SIGMAS``
  (5) spreads faster than the flows explain, for ``BALANCE_HOLD_S`` (30 min), is gas going
  somewhere else: a leak. The fit
  must explain at least ``BALANCE_MIN_R2`` (half) of the holder's pace, which takes a net flow
  that varied while commissioning (a CHP that cycles, say); it is not extrapolated beyond
  the net flows seen then (a quarter of their range either side), and not used while the
  over-pressure valve (role ``gas.relief_valve``) is open: a full holder venting is no leak.

Each check decides itself (ratio 2.0 when it holds) and votes alone, named in the anomaly's
explanation as ``<tag>:process.<check>``. The gas balance's fit is part of the stream's
snapshot.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from agents.detectors.baseline import UNKNOWN, BaselineBank
from agents.detectors.voting import DetectorResult, decision_thresholds
from agents.features.derived import HEATING_DT, NET_FLOW
from agents.features.reading import ReadingFeatures

NAME = "process"
CIRCULATION_DT_K = 0.5
BALANCE_SIGMAS = 5.0
BALANCE_HOLD_S = 1800.0
BALANCE_MIN_R2 = 0.5
BALANCE_TAU_S = 3600.0
BALANCE_GAP_S = 600.0
HOLDER_ROLE = "gas.holder_fill"
RELIEF_ROLE = "gas.relief_valve"


class GasBalance:
    """The holder's fill against the net flow, both summed over about an hour (exponential
    weights, time constant ``BALANCE_TAU_S``): by the mass balance the fill's change is the
    net flow's volume over the capacity. The fit while commissioning, then how long the fill
    has been falling faster than the flows explain."""

    def __init__(self) -> None:
        self.sxx = self.sxy = self.syy = 0.0
        self.n = 0
        self.net_lo, self.net_hi = math.inf, -math.inf
        self.k: float | None = None  # fill % per Nm³ of net flow: 100 / capacity
        self.sigma = 0.0  # spread of the fit's residual, % per hour
        self.short_since: float | None = None
        #: the running sums and the last reading they took
        self.ew_fill = self.ew_net = 0.0
        self.last: tuple[float, float] | None = None  # (ts, fill)
        self.filled_since = math.inf  # since when the sums have run without a gap
        #: the last pace judged, missing from the holder (%/h), for explanations
        self.last_short = 0.0

    def add(self, ts: float, fill: float, net: float) -> bool:
        """Take one reading of the fill (%) and the net flow (Nm³/h); False after a gap (the
        sums start again, and nothing is judged until they have an hour in them)."""
        last = self.last
        self.last = (ts, fill)
        if last is None or not 0.0 < ts - last[0] <= BALANCE_GAP_S:
            self.ew_fill = self.ew_net = 0.0
            self.filled_since = ts
            return False
        dt = ts - last[0]
        a = math.exp(-dt / BALANCE_TAU_S)
        self.ew_fill = a * self.ew_fill + (fill - last[1])
        self.ew_net = a * self.ew_net + net * dt / 3600.0
        return ts - self.filled_since >= BALANCE_TAU_S

    def learn(self, net: float) -> None:
        x, y = self.ew_net, self.ew_fill
        self.sxx += x * x
        self.sxy += x * y
        self.syy += y * y
        self.n += 1
        self.net_lo, self.net_hi = min(self.net_lo, net), max(self.net_hi, net)

    def decide(self) -> None:
        if self.n < 10 or self.sxx <= 0.0:
            self.k, self.sigma = 0.0, math.inf  # nothing to fit: the check stays off
            return
        self.k = self.sxy / self.sxx
        explained = self.k * self.sxy / self.syy if self.syy > 0.0 else 0.0
        spread = math.sqrt(max(self.syy - self.k * self.sxy, 0.0) / self.n)
        self.sigma = spread * 3600.0 / BALANCE_TAU_S if explained >= BALANCE_MIN_R2 \
            else math.inf

    def covers(self, net: float) -> bool:
        """Whether the fit may judge this net flow (not far beyond those it was fitted on)."""
        margin = 0.25 * (self.net_hi - self.net_lo)
        return self.net_lo - margin <= net <= self.net_hi + margin

    def missing(self) -> float:
        """The fill the net flow does not explain, as % per hour (positive: gas missing)."""
        return -(self.ew_fill - (self.k or 0.0) * self.ew_net) * 3600.0 / BALANCE_TAU_S

    def to_meta(self) -> dict[str, Any]:
        return {"sxx": self.sxx, "sxy": self.sxy, "syy": self.syy, "n": self.n, "k": self.k,
                "net": None if self.n == 0 else [self.net_lo, self.net_hi],
                "sigma": None if math.isinf(self.sigma) else self.sigma,
                "short_since": self.short_since, "ew": [self.ew_fill, self.ew_net],
                "last": self.last,
                "filled_since": None if math.isinf(self.filled_since) else self.filled_since}

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> GasBalance:
        found = cls()
        found.sxx, found.sxy, found.syy = (float(meta[k]) for k in ("sxx", "sxy", "syy"))
        found.n = int(meta["n"])
        if meta.get("net") is not None:
            found.net_lo, found.net_hi = (float(x) for x in meta["net"])
        found.k = None if meta["k"] is None else float(meta["k"])
        found.sigma = math.inf if meta["sigma"] is None else float(meta["sigma"])
        found.short_since = None if meta["short_since"] is None else float(meta["short_since"])
        found.ew_fill, found.ew_net = (float(x) for x in meta["ew"])
        found.last = None if meta["last"] is None else (float(meta["last"][0]),
                                                         float(meta["last"][1]))
        if meta.get("filled_since") is not None:
            found.filled_since = float(meta["filled_since"])
        return found


class ProcessChecks:
    """The process checks of one stream."""

    def __init__(self) -> None:
        self.balance = GasBalance()
        #: the scan positions of the inputs, kept while the scans' columns stay the same
        self._places: tuple[Any, Any, list[int], int | None, int | None, int | None] | None = None

    def _where(self, idx: Any, tags: list[str], roles: list[str | None]
               ) -> tuple[list[int], int | None, int | None, int | None]:
        places = self._places
        if places is None or places[0] is not idx or places[1] is not roles:
            cols = idx.tolist()

            def first(role: str) -> int | None:
                return next((i for i, col in enumerate(cols)
                             if col < len(roles) and roles[col] == role), None)

            heating = [i for i, col in enumerate(cols) if tags[col] == HEATING_DT]
            net = next((i for i, col in enumerate(cols) if tags[col] == NET_FLOW), None)
            places = self._places = (idx, roles, heating, first(HOLDER_ROLE), net,
                                     first(RELIEF_ROLE))
        return places[2], places[3], places[4], places[5]

    def vote(self, ts: float, feats: ReadingFeatures, tags: list[str],
             roles: list[str | None], baseline: BaselineBank) -> DetectorResult | None:
        """The checks of one scan's readings (None when none applies to its tags)."""
        idx = feats.step.idx
        heating, holder, net, relief = self._where(idx, tags, roles)
        if not heating and (holder is None or net is None):
            return None
        n = idx.shape[0]
        ratio = np.zeros(n)
        labels = [""] * n
        cols = idx
        for i in heating:
            col = int(cols[i])
            if col >= baseline.size or baseline.kind[col] == UNKNOWN:
                continue  # still commissioning
            learnt_low = float(baseline.lo[col, 1])
            mean_10m = float(feats.agg.mean[1, i])
            if learnt_low > 2 * CIRCULATION_DT_K and abs(mean_10m) < CIRCULATION_DT_K:
                ratio[i], labels[i] = 2.0, "circulation"
        venting = relief is not None and bool(feats.step.value[relief] > 0.5)
        if venting:
            self.balance.short_since = None
        elif holder is not None and net is not None:
            found = self._balance(ts, feats, holder, net, int(cols[holder]), baseline)
            if found > 0.0:
                ratio[holder], labels[holder] = found, "gas_balance"
        return DetectorResult(name=NAME, score=ratio / (1.0 + ratio),
                              threshold=decision_thresholds(n), voted=ratio > 1.0, alone=True,
                              measure=ratio, measure_name="ratio", labels=tuple(labels))

    def _balance(self, ts: float, feats: ReadingFeatures, holder: int, net: int, col: int,
                 baseline: BaselineBank) -> float:
        step = feats.step
        b = self.balance
        if not (step.valid[holder] and step.valid[net]) or col >= baseline.size:
            return 0.0
        flow = float(step.value[net])
        if not b.add(ts, float(step.value[holder]), flow):
            return 0.0
        if baseline.kind[col] == UNKNOWN:  # the holder is being commissioned
            b.learn(flow)
            return 0.0
        if b.k is None:
            b.decide()
        short = b.last_short = b.missing()
        if short <= BALANCE_SIGMAS * b.sigma or not b.covers(flow):
            b.short_since = None
            return 0.0
        if b.short_since is None:
            b.short_since = ts
        return 2.0 if ts - b.short_since >= BALANCE_HOLD_S else 0.0
