"""Plant-level domain features (DOMAIN.md section 7): gas quality, yield, CHP efficiency, gas
balance, temperature stability, and the FOS/TAC trend from lab results.

Tags are found by role (:data:`DEFAULT_ROLES`, the simulator's tag ids). The latest good value of
each role is kept with its event time; counters and the gas holder are differenced over at
least ``RATE_MIN_S`` of event time.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import orjson

from agents.errors import StateError
from agents.features.windows import F64, BoolArray
from streams.events import Analyte, LabResultRecorded

#: Lower heating value of methane, kWh per Nm³.
CH4_KWH_PER_NM3 = 9.97
RATE_MIN_S = 600.0
TEMP_HISTORY = 720
LAB_HISTORY = 8

DEFAULT_ROLES: dict[str, str] = {
    "ch4": "gas.ch4", "co2": "gas.co2", "gas_total": "gas.flow_total",
    "gas_chp": "gas.flow_chp", "gas_flare": "gas.flow_flare",
    "holder_fill": "gas.holder_fill", "feed_total_kg": "feed.solid_total",
    "p_el": "chp.p_el", "dig_temp": "dig1.temp",
}


@dataclass(frozen=True)
class PlantConstants:
    """Plant facts the features need (defaults: the 500 kWel scenario of DOMAIN.md 1)."""

    holder_capacity_nm3: float = 2000.0


class PlantFeatures:
    """Latest values by role and short histories for one plant."""

    def __init__(self, roles: dict[str, str] | None = None,
                 constants: PlantConstants | None = None) -> None:
        self.roles = dict(roles or DEFAULT_ROLES)
        self.by_tag = {tag: role for role, tag in self.roles.items()}
        self.constants = constants or PlantConstants()
        self.latest: dict[str, tuple[float, float]] = {}
        self.anchors: dict[str, tuple[float, float]] = {}
        self.rates: dict[str, float] = {}
        self.temps: deque[float] = deque(maxlen=TEMP_HISTORY)
        self.fos_tac: deque[tuple[float, float]] = deque(maxlen=LAB_HISTORY)
        # the readings of the last tag list that have a role: (position, role)
        self._last_tags: list[str] | None = None
        self._with_role: list[tuple[int, str]] = []

    def add_scan(self, ts: float, tags: list[str], values: F64, good: BoolArray) -> None:
        if tags != self._last_tags:
            self._last_tags = list(tags)
            self._with_role = [(i, role) for i, role in enumerate(map(self.by_tag.get, tags))
                               if role is not None]
        for i, role in self._with_role:
            value = float(values[i])
            if not good[i] or not math.isfinite(value):
                continue
            self.latest[role] = (ts, value)
            if role in ("feed_total_kg", "holder_fill"):
                self._rate(role, ts, value)
            elif role == "dig_temp":
                self.temps.append(value)

    def _rate(self, role: str, ts: float, value: float) -> None:
        anchor = self.anchors.get(role)
        if anchor is None or ts < anchor[0]:
            self.anchors[role] = (ts, value)
            return
        if ts - anchor[0] >= RATE_MIN_S:
            self.rates[role] = (value - anchor[1]) / (ts - anchor[0])
            self.anchors[role] = (ts, value)

    def add_lab(self, event: LabResultRecorded) -> None:
        """Record a FOS/TAC result (the same result delivered again changes nothing)."""
        if event.analyte is Analyte.FOS_TAC:
            result = (event.sampled_at.timestamp(), event.value)
            if result not in self.fos_tac:
                self.fos_tac.append(result)

    def to_bytes(self) -> bytes:
        """The learnt state (latest values, rate anchors, histories) for a snapshot."""
        return orjson.dumps({"v": 1, "latest": self.latest, "anchors": self.anchors,
                             "rates": self.rates, "temps": list(self.temps),
                             "fos_tac": list(self.fos_tac)})

    @classmethod
    def from_bytes(cls, data: bytes, roles: dict[str, str] | None = None,
                   constants: PlantConstants | None = None) -> PlantFeatures:
        """The state written by :meth:`to_bytes`; :class:`StateError` when unreadable."""
        plant = cls(roles, constants)
        try:
            raw = orjson.loads(data)
            plant.latest = {k: (float(t), float(v)) for k, (t, v) in raw["latest"].items()}
            plant.anchors = {k: (float(t), float(v)) for k, (t, v) in raw["anchors"].items()}
            plant.rates = {k: float(v) for k, v in raw["rates"].items()}
            plant.temps.extend(float(v) for v in raw["temps"])
            plant.fos_tac.extend((float(t), float(v)) for t, v in raw["fos_tac"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StateError(f"plant feature snapshot is unreadable: {exc!r}") from exc
        return plant

    def _value(self, role: str) -> float | None:
        found = self.latest.get(role)
        return None if found is None else found[1]

    def features(self) -> dict[str, float]:
        """The plant features that can be computed from what has been seen (finite only)."""
        out: dict[str, float] = {}
        ch4, co2 = self._value("ch4"), self._value("co2")
        if ch4 is not None and co2 is not None and co2 > 0:
            out["ch4_co2_ratio"] = ch4 / co2
        total, chp, flare = (self._value(r) for r in ("gas_total", "gas_chp", "gas_flare"))
        feed_rate = self.rates.get("feed_total_kg")
        if total is not None and feed_rate is not None and feed_rate > 0:
            feed_t_per_d = feed_rate * 86400.0 / 1000.0
            out["gas_per_feed_nm3_per_t"] = total * 24.0 / feed_t_per_d
        p_el = self._value("p_el")
        if p_el is not None and chp is not None and ch4 is not None and chp > 0 and ch4 > 0:
            out["chp_eta_el"] = p_el / (chp * ch4 / 100.0 * CH4_KWH_PER_NM3)
        fill_rate = self.rates.get("holder_fill")
        if total is not None and chp is not None and fill_rate is not None:
            storage_nm3_h = fill_rate / 100.0 * self.constants.holder_capacity_nm3 * 3600.0
            out["gas_balance_residual_nm3_h"] = total - chp - (flare or 0.0) - storage_nm3_h
        if len(self.temps) >= 10:
            out["dig_temp_std"] = float(np.std(np.fromiter(self.temps, dtype=np.float64)))
        if self.fos_tac:
            out["fos_tac_last"] = self.fos_tac[-1][1]
        if len(self.fos_tac) >= 2:
            t = np.array([p[0] for p in self.fos_tac]) / 86400.0
            v = np.array([p[1] for p in self.fos_tac])
            if float(np.ptp(t)) > 0:
                out["fos_tac_trend_per_d"] = float(np.polyfit(t - t[0], v, 1)[0])
        return {k: float(v) for k, v in out.items() if math.isfinite(v)}
