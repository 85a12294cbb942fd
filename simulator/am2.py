"""AM2 two-step anaerobic digestion model (Bernard et al. 2001), with the extensions of
DOMAIN.md 6.3.5: two-pool first-order hydrolysis of particulate COD, a temperature factor on
the growth and hydrolysis rates, and a methanogen inhibition multiplier.

Units follow the paper: X1, X2 in g VSS/L; S1, XF, XS in g COD/L; S2, Z, C in mmol/L; time in
days. The step is a fixed-step classical RK4 on plain floats (no allocation per step).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

#: Normal molar volume of an ideal gas, Nm³/mol (0 °C, 1013.25 hPa).
NORMAL_MOLAR_VOLUME = 0.022414


@dataclass(frozen=True, slots=True)
class AM2Params:
    """Kinetic and stoichiometric parameters; defaults are Bernard et al. (2001) nominal values
    (DOMAIN.md 6.3.2) with alpha = 1 for a CSTR, plus the agricultural extensions."""

    mu1max: float = 1.2
    ks1: float = 7.1
    mu2max: float = 0.74
    ks2: float = 9.28
    ki2: float = 256.0
    alpha: float = 1.0
    k1: float = 42.14
    k2: float = 116.5
    k3: float = 268.0
    k4: float = 50.6
    k5: float = 343.6
    k6: float = 453.0
    kla: float = 19.8
    kh: float = 16.0
    pt: float = 1.0
    kb: float = 6.5e-7
    #: First-order hydrolysis of the easily (fast) and slowly degradable particulate pools, d⁻¹.
    k_hyd_fast: float = 3.0
    k_hyd_slow: float = 0.25
    #: Biomass decay, d⁻¹ (0 in the original AM2).
    kd: float = 0.0
    #: Arrhenius-type factor theta^(T - t_ref) on mu1max, mu2max and hydrolysis.
    theta: float = 1.07
    t_ref: float = 40.0
    #: pH clamp (DOMAIN.md 6.3.4) and the floor of the bicarbonate term, mmol/L.
    ph_min: float = 4.5
    ph_max: float = 8.5
    b_floor: float = 0.5

    @property
    def ch4_per_cod(self) -> float:
        """mmol CH4 per g COD fully converted: (k2/k1)·(k6/k3)."""
        return (self.k2 / self.k1) * (self.k6 / self.k3)


class AM2State(NamedTuple):
    """The model state."""

    x1: float
    x2: float
    s1: float
    s2: float
    z: float
    c: float
    xf: float
    xs: float


class AM2Inputs(NamedTuple):
    """Inputs held constant over one step."""

    d: float  # dilution rate, d⁻¹
    s1_in: float  # dissolved COD in the feed, g/L
    s2_in: float  # VFA in the feed, mmol/L
    z_in: float  # alkalinity in the feed, mmol/L
    c_in: float  # inorganic carbon in the feed, mmol/L
    temp_factor: float = 1.0  # multiplier on growth and hydrolysis rates
    mu2_factor: float = 1.0  # methanogen inhibition multiplier (1 = none)
    hyd_factor: float = 1.0  # extra multiplier on hydrolysis (mixing deficit)


class AM2Outputs(NamedTuple):
    """Algebraic outputs at one state."""

    q_ch4: float  # mmol/L/d
    q_co2: float  # mmol/L/d
    ph: float
    co2_dissolved: float  # mmol/L
    p_co2: float  # atm
    mu1: float
    mu2: float


def temperature_factor(p: AM2Params, temp_c: float) -> float:
    """theta^(T - t_ref), the rate multiplier at temperature ``temp_c``."""
    return float(p.theta ** (temp_c - p.t_ref))


def _rates(p: AM2Params, st: AM2State, u: AM2Inputs) -> tuple[float, float, float, float]:
    s1 = st.s1 if st.s1 > 0.0 else 0.0
    s2 = st.s2 if st.s2 > 0.0 else 0.0
    mu1 = p.mu1max * u.temp_factor * s1 / (p.ks1 + s1)
    mu2 = p.mu2max * u.temp_factor * u.mu2_factor * s2 / (p.ks2 + s2 + s2 * s2 / p.ki2)
    # dissolved CO2 = C - bicarbonate; bicarbonate B = Z - S2 is floored (DOMAIN.md 6.3.4),
    # so VFA beyond the alkalinity cannot strip more CO2 than there is inorganic carbon
    b = st.z - s2
    co2 = st.c - (b if b > p.b_floor else p.b_floor)
    if co2 < 0.0:
        co2 = 0.0
    q_ch4 = p.k6 * mu2 * st.x2
    phi = co2 + p.kh * p.pt + q_ch4 / p.kla
    disc = phi * phi - 4.0 * p.kh * p.pt * co2
    pc = (phi - math.sqrt(disc if disc > 0.0 else 0.0)) / (2.0 * p.kh)
    q_co2 = p.kla * (co2 - p.kh * pc)
    return mu1, mu2, q_co2, co2


def derivatives(p: AM2Params, st: AM2State, u: AM2Inputs) -> AM2State:
    """Right-hand side of the ODE system."""
    mu1, mu2, q_co2, _ = _rates(p, st, u)
    d = u.d
    ad = p.alpha * d + p.kd
    khf = p.k_hyd_fast * u.temp_factor * u.hyd_factor
    khs = p.k_hyd_slow * u.temp_factor * u.hyd_factor
    r1 = mu1 * st.x1
    r2 = mu2 * st.x2
    hyd = khf * st.xf + khs * st.xs
    return AM2State(
        x1=(mu1 - ad) * st.x1,
        x2=(mu2 - ad) * st.x2,
        s1=d * (u.s1_in - st.s1) - p.k1 * r1 + hyd,
        s2=d * (u.s2_in - st.s2) + p.k2 * r1 - p.k3 * r2,
        z=d * (u.z_in - st.z),
        c=d * (u.c_in - st.c) - q_co2 + p.k4 * r1 + p.k5 * r2,
        xf=-d * st.xf - khf * st.xf,
        xs=-d * st.xs - khs * st.xs,
    )


def _axpy(st: AM2State, k: AM2State, h: float) -> AM2State:
    return AM2State(
        st.x1 + h * k.x1, st.x2 + h * k.x2, st.s1 + h * k.s1, st.s2 + h * k.s2,
        st.z + h * k.z, st.c + h * k.c, st.xf + h * k.xf, st.xs + h * k.xs,
    )


def rk4_step(p: AM2Params, st: AM2State, u: AM2Inputs, h_days: float) -> AM2State:
    """Advance the state by ``h_days`` with one classical RK4 step; concentrations stay >= 0."""
    k1 = derivatives(p, st, u)
    k2 = derivatives(p, _axpy(st, k1, 0.5 * h_days), u)
    k3 = derivatives(p, _axpy(st, k2, 0.5 * h_days), u)
    k4 = derivatives(p, _axpy(st, k3, h_days), u)
    w = h_days / 6.0
    new = (
        a + w * (b1 + 2.0 * b2 + 2.0 * b3 + b4)
        for a, b1, b2, b3, b4 in zip(st, k1, k2, k3, k4, strict=True)
    )
    return AM2State(*(v if v > 0.0 else 0.0 for v in new))


def outputs(p: AM2Params, st: AM2State, u: AM2Inputs) -> AM2Outputs:
    """Gas flows and the clamped pH at ``st`` (DOMAIN.md 6.3.1 and 6.3.4)."""
    mu1, mu2, q_co2, co2 = _rates(p, st, u)
    q_ch4 = p.k6 * mu2 * st.x2
    b = st.z - max(st.s2, 0.0)
    b = b if b > p.b_floor else p.b_floor
    co2_eff = co2 if co2 > 1e-9 else 1e-9
    ph = -math.log10(p.kb * co2_eff / b)
    ph = min(max(ph, p.ph_min), p.ph_max)
    pc = (co2 - q_co2 / p.kla) / p.kh
    return AM2Outputs(q_ch4, max(q_co2, 0.0), ph, co2, max(pc, 0.0), mu1, mu2)


def steady_state_guess(p: AM2Params, u: AM2Inputs, cod_rate: float) -> AM2State:
    """An approximate steady state for a COD load ``cod_rate`` (g COD/L/d, all via hydrolysis),
    used as the initial condition so a run starts on a settled plant."""
    d = u.d
    ad = p.alpha * d + p.kd
    f = u.temp_factor
    s1 = p.ks1 * ad / max(p.mu1max * f - ad, 1e-6)
    # Haldane, lower root: mu2max·s/(ks2 + s + s²/ki2) = ad
    a = ad / p.ki2
    b = ad - p.mu2max * f * u.mu2_factor
    c = ad * p.ks2
    disc = b * b - 4.0 * a * c
    s2 = (-b - math.sqrt(max(disc, 0.0))) / (2.0 * a) if a > 0 else c / -b
    x1 = (cod_rate + d * (u.s1_in - s1)) / (p.k1 * ad)
    x2 = (d * (u.s2_in - s2) + p.k2 * ad * x1) / (p.k3 * ad)
    z = u.z_in
    c_tot = u.c_in + 10.0
    return AM2State(x1, x2, s1, s2, z, c_tot, 0.0, 0.0)
