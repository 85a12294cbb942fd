"""Calibration of AM2 to an agricultural feed (DOMAIN.md 6.3.3): each substrate's fresh mass is
converted to an "effective COD" so that the steady-state methane yield equals its lab potential
times the degradation efficiency; and a settled initial state for that feed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from simulator import am2
from simulator.config import Substrate


def degraded_fraction(p: am2.AM2Params, fast_fraction: float, d: float) -> float:
    """Share of the particulate COD hydrolysed before it washes out, at dilution rate ``d``."""
    ff = fast_fraction
    return ff * p.k_hyd_fast / (p.k_hyd_fast + d) + (1 - ff) * p.k_hyd_slow / (p.k_hyd_slow + d)


def cod_per_tonne(p: am2.AM2Params, s: Substrate, d: float, efficiency: float) -> float:
    """Effective COD (kg) per tonne of fresh mass of ``s``."""
    nm3_per_kg_cod = p.ch4_per_cod * am2.NORMAL_MOLAR_VOLUME
    ots_kg = 1000.0 * s.ts * s.ots
    return ots_kg * s.ch4_yield * efficiency / (
        nm3_per_kg_cod * degraded_fraction(p, s.fast_fraction, d))


def initial_state(p: am2.AM2Params, u: am2.AM2Inputs, substrates: Iterable[Substrate],
                  cod_per_t: Mapping[str, float], volume_m3: float) -> am2.AM2State:
    """Steady state for continuous feeding, refined by five simulated days of integration."""
    d = u.d
    xf = xs = hyd = 0.0
    for s in substrates:
        cod = s.amount_per_day * cod_per_t[s.name] / volume_m3  # g COD/L/d
        xf += s.fast_fraction * cod / (p.k_hyd_fast + d)
        xs += (1 - s.fast_fraction) * cod / (p.k_hyd_slow + d)
        hyd += cod * degraded_fraction(p, s.fast_fraction, d)
    st = am2.steady_state_guess(p, u, hyd)._replace(xf=xf, xs=xs)
    h = 300.0 / 86400.0
    for _ in range(int(5.0 / h)):  # settle C and the pools with continuous feed
        st = am2.rk4_step(p, st, u, h)
        st = st._replace(xf=st.xf + xf * (p.k_hyd_fast + d) * h,
                         xs=st.xs + xs * (p.k_hyd_slow + d) * h)
    return st
