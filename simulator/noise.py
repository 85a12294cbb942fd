"""Measurement noise: Gaussian, absolute plus relative, drawn from one seeded generator so a
run is reproducible for a given seed."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

import numpy as np

#: tag -> (absolute sigma, relative sigma); assumptions sized to typical transmitter noise.
DEFAULT_SIGMAS: Mapping[str, tuple[float, float]] = {
    "dig1.temp_top": (0.04, 0.0),
    "dig1.temp_bottom": (0.04, 0.0),
    "dig1.ph": (0.01, 0.0),
    "dig1.level": (0.004, 0.0),
    "gas.pressure": (0.08, 0.0),
    "gas.holder_fill": (0.15, 0.0),
    "agit1.current": (0.25, 0.0),
    "pump.feed.current": (0.15, 0.0),
    "gas.flow_chp": (0.0, 0.01),
    "gas.flow_flare": (0.0, 0.015),
    "gas.flow_total": (0.0, 0.01),
    "heat.supply_temp": (0.15, 0.0),
    "heat.return_temp": (0.15, 0.0),
    "air.dosing_flow": (0.0, 0.02),
    "chp.p_el": (0.0, 0.003),
    "chp.p_th": (0.0, 0.005),
    "chp.exhaust_temp": (1.5, 0.0),
    "chp.coolant_temp": (0.15, 0.0),
    "chp2.p_el": (0.0, 0.003),
    "chp2.p_th": (0.0, 0.005),
    "chp2.exhaust_temp": (1.5, 0.0),
    "chp2.coolant_temp": (0.15, 0.0),
    "safety.ch4_lel": (0.0, 0.03),
}

#: Noise of one analyser reading, applied when the reading is taken (held values repeat).
ANALYSER_SIGMAS: Mapping[str, tuple[float, float]] = {
    "gas.ch4": (0.15, 0.0),
    "gas.co2": (0.15, 0.0),
    "gas.o2": (0.01, 0.0),
    "gas.h2s": (1.0, 0.02),
    "gas.h2": (1.0, 0.02),
}

#: Noise of one online-titrator result.
TITRATOR_SIGMAS: Mapping[str, tuple[float, float]] = {
    "dig1.fos": (0.0, 0.02),
    "dig1.tac": (0.0, 0.01),
    "dig1.vfa": (0.0, 0.02),
}


class Noise:
    """Seeded Gaussian noise; ``enabled=False`` makes every call a no-op."""

    def __init__(self, seed: int, *, enabled: bool = True) -> None:
        self._rng = np.random.Generator(np.random.PCG64(seed))
        self.enabled = enabled

    def perturb(self, values: MutableMapping[str, float],
                sigmas: Mapping[str, tuple[float, float]]) -> None:
        """Add noise in place to every tag of ``values`` that has a sigma."""
        if not self.enabled:
            return
        keys = [k for k in sigmas if k in values]
        draws = self._rng.standard_normal(len(keys))
        for key, z in zip(keys, draws.tolist(), strict=True):
            a, r = sigmas[key]
            v = values[key]
            values[key] = v + z * (a + r * abs(v))

    def uniform(self) -> float:
        """One uniform draw in [0, 1) from the same stream (for faults that need chance)."""
        return float(self._rng.random())

    def normal(self) -> float:
        return float(self._rng.standard_normal())
