"""Auxiliary equipment models of DOMAIN.md 6.5: gas storage with flare, CHP, digester heating,
agitator and the time-shared gas analyser. Each is a small state machine advanced by ``step``;
time arguments are in hours unless the name says otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from simulator.config import (
    AgitatorConfig,
    AnalyserConfig,
    ChpConfig,
    GasStorageConfig,
    HeatingConfig,
)

CHP_OFF, CHP_STARTING, CHP_RUNNING, CHP_COOLDOWN, CHP_FAULT = 0, 1, 2, 3, 4
ANA_OK, ANA_WARMUP, ANA_PURGE, ANA_CALIBRATION, ANA_FAULT = 0, 1, 2, 3, 4


def _lag(value: float, target: float, dt_h: float, tau_h: float) -> float:
    """First-order lag towards ``target``; exact for a constant target."""
    return target + (value - target) * math.exp(-dt_h / tau_h)


@dataclass
class GasStorage:
    """Double-membrane holder: volume integrator, flare hysteresis, pressure regime."""

    cfg: GasStorageConfig
    volume_m3: float = 0.0
    flare_on: bool = False
    vented_m3: float = 0.0

    def __post_init__(self) -> None:
        self.volume_m3 = self.cfg.fill_init * self.cfg.capacity_m3

    @property
    def fill(self) -> float:
        return self.volume_m3 / self.cfg.capacity_m3

    def step(self, dt_h: float, q_in: float, q_chp: float, q_leak: float,
             flare_enabled: bool) -> float:
        """Advance; returns the flare flow in Nm³/h."""
        c = self.cfg
        flare_enabled = flare_enabled and c.flare
        if self.fill >= c.flare_on and flare_enabled:
            self.flare_on = True
        elif self.fill <= c.flare_off or not flare_enabled:
            self.flare_on = False
        q_flare = 0.0
        if self.flare_on:
            drain = 0.05 * c.capacity_m3  # bring the fill back to the off level in a few hours
            q_flare = min(c.flare_capacity_nm3_h, max(q_in - q_chp - q_leak + drain, 0.0))
        self.volume_m3 += (q_in - q_chp - q_flare - q_leak) * dt_h
        if self.volume_m3 > c.capacity_m3:  # over-pressure valve vents the excess
            self.vented_m3 += self.volume_m3 - c.capacity_m3
            self.volume_m3 = c.capacity_m3
        self.volume_m3 = max(self.volume_m3, 0.0)
        return q_flare

    def pressure_mbar(self) -> float:
        c = self.cfg
        f = self.fill
        if f >= 0.98:
            return c.pressure_setpoint_mbar + (c.overpressure_mbar - c.pressure_setpoint_mbar) * (
                min((f - 0.98) / 0.02, 1.0))
        if f <= 0.05:
            return 0.5 + (c.pressure_setpoint_mbar - 0.5) * f / 0.05
        return c.pressure_setpoint_mbar


@dataclass
class Chp:
    """Gas engine with start ramp, low-fill stop, part-load derate and trip."""

    cfg: ChpConfig
    state: int = CHP_RUNNING
    ramp: float = 1.0
    hours: float = 0.0
    energy_kwh: float = 0.0
    p_el: float = 0.0
    gas_nm3_h: float = 0.0
    fault_code: int = 0
    exhaust_c: float = 480.0
    coolant_c: float = 85.0
    cooldown_h: float = 0.0
    #: added to the fill limits of a second unit, so that it stops first and restarts last
    stagger: float = 0.0

    def __post_init__(self) -> None:
        self.hours = self.cfg.hours_init
        self.energy_kwh = self.cfg.energy_init_kwh

    def eta(self, load: float) -> float:
        c = self.cfg
        return (c.eta_el - c.eta_loss_per_10kh * self.hours / 10000.0) * (1.0 - 0.1 * (1 - load))

    def step(self, dt_h: float, fill: float, ch4_frac: float, load_pct: float,
             tripped: bool) -> None:
        c = self.cfg
        min_fill, restart_fill = c.min_fill + self.stagger, c.restart_fill + 2 * self.stagger
        if tripped:
            if self.state != CHP_FAULT:
                self.fault_code = 1201
            self.state = CHP_FAULT
        elif self.state == CHP_FAULT:
            self.state, self.fault_code = CHP_OFF, 0
        elif self.state in (CHP_STARTING, CHP_RUNNING) and (
                fill < min_fill or ch4_frac * 100.0 < c.min_ch4_pct):
            self.state, self.cooldown_h = CHP_COOLDOWN, 0.1
        elif self.state == CHP_COOLDOWN:
            self.cooldown_h -= dt_h
            if self.cooldown_h <= 0.0:
                self.state = CHP_OFF
        elif self.state == CHP_OFF and fill > restart_fill and ch4_frac * 100 > c.min_ch4_pct:
            self.state, self.ramp = CHP_STARTING, 0.0
        if self.state == CHP_STARTING:
            self.ramp = min(self.ramp + dt_h * 3600.0 / c.start_ramp_s, 1.0)
            if self.ramp >= 1.0:
                self.state = CHP_RUNNING
        running = self.state in (CHP_STARTING, CHP_RUNNING)
        load = max(min(load_pct / 100.0, 1.0), 0.0)
        if fill < c.derate_fill + self.stagger:
            load = min(load, 0.6)
        self.p_el = c.p_rated_kw * load * self.ramp if running else 0.0
        if running and ch4_frac > 0.0 and self.p_el > 0.0:
            self.gas_nm3_h = self.p_el / (self.eta(load) * c.lhv_kwh_nm3 * ch4_frac)
            self.hours += dt_h
            self.energy_kwh += self.p_el * dt_h
        else:
            self.gas_nm3_h = 0.0
        self.exhaust_c = _lag(self.exhaust_c, 20.0 + 460.0 * self.p_el / c.p_rated_kw, dt_h, 0.3)
        self.coolant_c = _lag(self.coolant_c, 85.0 if running else 40.0, dt_h, 0.5)

    @property
    def p_th(self) -> float:
        return self.cfg.heat_ratio * self.p_el


@dataclass
class Heating:
    """Hysteresis controller on digester temperature, limited by the heat available."""

    cfg: HeatingConfig
    on: bool = False
    q_kw: float = 0.0
    supply_c: float = 60.0
    return_c: float = 50.0

    def step(self, dt_h: float, temp_c: float, setpoint_c: float, heat_avail_kw: float,
             failed: bool) -> None:
        c = self.cfg
        if temp_c < setpoint_c - c.hysteresis_c:
            self.on = True
        elif temp_c > setpoint_c + c.hysteresis_c:
            self.on = False
        avail = heat_avail_kw + c.boiler_kw
        self.q_kw = 0.0 if failed or not self.on else min(c.max_kw, avail)
        if failed:  # circulation stopped: the circuit settles to the digester temperature
            target_s = target_r = temp_c + 0.5
        elif self.q_kw > 0.0:
            target_s = min(c.supply_temp_c, temp_c + 5.0 + self.q_kw / c.flow_kw_per_k * 2.0)
            target_r = target_s - self.q_kw / c.flow_kw_per_k
        else:
            target_s, target_r = temp_c + 6.0, temp_c + 4.0
        self.supply_c = _lag(self.supply_c, target_s, dt_h, 0.3)
        self.return_c = _lag(self.return_c, target_r, dt_h, 0.3)


@dataclass
class Agitator:
    """Interval timer; a trip leaves the run command on with no current."""

    cfg: AgitatorConfig
    minute: float = 0.0
    command: bool = True
    mixing_deficit: float = 0.0

    def step(self, dt_h: float, tripped: bool) -> None:
        c = self.cfg
        self.minute = (self.minute + dt_h * 60.0) % (c.on_min + c.off_min)
        self.command = self.minute < c.on_min
        mixed = not tripped
        self.mixing_deficit = _lag(self.mixing_deficit, 0.0 if mixed else 1.0, dt_h,
                                   6.0 if mixed else 48.0)

    def running(self, tripped: bool) -> bool:
        return self.command and not tripped


@dataclass
class GasAnalyser:
    """Time-shared analyser: one sample point at a time, a purge after each switch; channels
    hold their last value in between (DOMAIN.md 3.2)."""

    cfg: AnalyserConfig
    minute: float = 0.0
    point: int = 1
    status: int = ANA_OK
    held: dict[str, float] = field(default_factory=dict)

    def advance(self, dt_h: float) -> None:
        """Move the sample-point timer; the caller stores a new reading unless purging."""
        c = self.cfg
        cycle = c.dwell_min * len(c.points)
        self.minute = (self.minute + dt_h * 60.0) % cycle
        idx = min(int(self.minute // c.dwell_min), len(c.points) - 1)
        self.point = c.points[idx]
        in_purge = (self.minute - idx * c.dwell_min) < c.purge_min
        self.status = ANA_PURGE if in_purge else ANA_OK
