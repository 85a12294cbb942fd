"""The simulated plant: AM2 digester plus the auxiliary models, advanced by ``advance(dt_s)``;
:func:`simulator.tags.plant_tags` reads the engineering tag values of DOMAIN.md section 2 /
5.8 (with noise) from it.

Faults act through :class:`Disturbances` (process faults) and :class:`Commands` (writable
setpoints: the coils and the CHP load setpoint of the register map).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from simulator import am2
from simulator.calibration import cod_per_tonne, initial_state
from simulator.config import PlantConfig, Substrate
from simulator.equipment import (
    ANA_PURGE,
    CHP_FAULT,
    CHP_RUNNING,
    CHP_STARTING,
    Agitator,
    Chp,
    GasAnalyser,
    GasStorage,
    Heating,
)
from simulator.noise import ANALYSER_SIGMAS, TITRATOR_SIGMAS, Noise

DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Disturbances:
    """Process-fault inputs; neutral values mean a healthy plant."""

    feed_factor: float = 1.0  # multiplier on the solid feed (overload)
    extra_fast_fraction: float = 0.8  # easily degradable share of feed above the recipe
    mu2_factor: float = 1.0  # methanogen inhibition
    foam_m: float = 0.0  # foam height seen by the radar
    h2s_factor: float = 1.0
    air_dosing_failed: bool = False
    heating_failed: bool = False
    agitator_tripped: bool = False
    leak_nm3_h: float = 0.0
    chp_tripped: bool = False
    chp2_tripped: bool = False  # the second engine, on plants with two


@dataclass
class Commands:
    """Writable setpoints (coils 0..2 of the PLC, HR 9 of the CHP controller)."""

    air_dosing_enable: bool = True
    flare_enable: bool = True
    feeding_enable: bool = True
    chp_load_pct: float = 100.0


class Plant:
    """One digester with gas storage, CHP, flare, heating, agitator, feeder and analyser."""

    def __init__(self, cfg: PlantConfig | None = None, *, seed: int = 0,
                 start: datetime = DEFAULT_START) -> None:
        self.cfg = cfg = cfg or PlantConfig()
        self.p = cfg.digester.am2
        self.start = start
        self.elapsed_s = 0.0
        self.noise = Noise(seed, enabled=cfg.noise)
        self.dist = Disturbances()
        self.cmd = Commands()
        dg = cfg.digester
        self.v = dg.volume_m3
        self.q_in_m3_d = sum(s.amount_per_day / s.density for s in cfg.feed.substrates)
        self.d = self.q_in_m3_d / self.v
        self._cod_per_t = {
            s.name: cod_per_tonne(self.p, s, self.d, dg.degradation_efficiency)
            for s in cfg.feed.substrates}
        self.storage = GasStorage(cfg.storage)
        self.chps = [Chp(cfg.chp, stagger=0.1 * i) for i in range(cfg.chp.units)]
        self.heating = Heating(cfg.heating)
        self.agitator = Agitator(cfg.agitator)
        self.analyser = GasAnalyser(cfg.analyser)
        self.temp_c = dg.temp_init_c
        self.level_m = (dg.level_low_m + dg.level_high_m) / 2.0
        self.digestate_pump = False
        self.feeder_t = cfg.feed.feeder_capacity_t
        self.solid_today_t = 0.0
        self.solid_total_kg = 0.0
        self.liquid_today_m3 = 0.0
        self.last_portion_kg = 0.0
        self.feed_pump_h = 0.0
        self.h2s_ppm = cfg.analyser.h2s_raw_ppm * math.exp(
            -cfg.analyser.h2s_removal_per_pct * cfg.analyser.air_dosing_pct)
        self.trapped_m3 = 0.0
        self._next_portion_s = 0.0
        self._next_dose_s = 0.0
        self._next_titration_s = cfg.analyser.titration_interval_h * 3600.0
        self._today = start.date()
        self.titration: dict[str, float] = {}
        self.u = am2.AM2Inputs(self.d, 0.0, 0.0, dg.z_in, dg.c_in)
        self.state = initial_state(self.p, self.u, cfg.feed.substrates, self._cod_per_t, self.v)
        self.out = am2.outputs(self.p, self.state, self.u)
        self.flows: dict[str, float] = {}
        self._update_gas(0.0)
        self.analyser.held = self.analyser_points()[self.analyser.point]
        self._titrate()

    # ---- feed -------------------------------------------------------------------------------
    def _dose(self, tonnes: float, s: Substrate, fast: float) -> None:
        cod = tonnes * self._cod_per_t[s.name] / self.v
        self.state = self.state._replace(xf=self.state.xf + fast * cod,
                                         xs=self.state.xs + (1 - fast) * cod)
        self.level_m += tonnes / s.density / self.cfg.digester.area_m2

    def _feed_events(self) -> None:
        fc = self.cfg.feed
        day_s = 86400.0
        while self.elapsed_s >= self._next_portion_s:
            self._next_portion_s += day_s / fc.portions_per_day
            if not self.cmd.feeding_enable:
                continue
            portion = 0.0
            for s in (s for s in fc.substrates if s.solid):
                base = s.amount_per_day / fc.portions_per_day
                extra = base * max(self.dist.feed_factor - 1.0, 0.0)
                self._dose(base, s, s.fast_fraction)
                if extra > 0.0:
                    self._dose(extra, s, self.dist.extra_fast_fraction)
                portion += base + extra
            self.last_portion_kg = portion * 1000.0
            self.solid_today_t += portion
            self.solid_total_kg += portion * 1000.0
            self.feeder_t -= portion
            if self.feeder_t < 0.1 * fc.feeder_capacity_t:
                self.feeder_t = fc.feeder_capacity_t  # the loader refills it
        while self.elapsed_s >= self._next_dose_s:
            self._next_dose_s += day_s / fc.liquid_doses_per_day
            if not self.cmd.feeding_enable:
                continue
            for s in (s for s in fc.substrates if not s.solid):
                m3 = s.amount_per_day / fc.liquid_doses_per_day
                self._dose(m3 * s.density, s, s.fast_fraction)
                self.liquid_today_m3 += m3
                self.feed_pump_h += m3 / fc.feed_pump_m3_h

    # ---- time -------------------------------------------------------------------------------
    @property
    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed_s)

    def hour_of_day(self) -> float:
        return ((self.start.hour * 3600 + self.start.minute * 60 + self.elapsed_s) / 3600) % 24

    def advance(self, dt_s: float) -> None:
        """Advance by ``dt_s`` simulated seconds in sub-steps of at most ``max_substep_s``."""
        remaining = dt_s
        while remaining > 1e-9:
            h = min(remaining, self.cfg.max_substep_s)
            self._substep(h)
            remaining -= h

    def _substep(self, dt_s: float) -> None:
        self.elapsed_s += dt_s
        dt_h = dt_s / 3600.0
        today = self.now.date()
        if today != self._today:
            self.solid_today_t = self.liquid_today_m3 = 0.0
            self._today = today
        self._feed_events()
        dg, dist = self.cfg.digester, self.dist
        self.agitator.step(dt_h, dist.agitator_tripped)
        extra_m3_d = sum(s.amount_per_day / s.density for s in self.cfg.feed.substrates
                         if s.solid) * max(dist.feed_factor - 1.0, 0.0)
        self.u = am2.AM2Inputs(
            d=self.d + extra_m3_d / self.v, s1_in=0.0, s2_in=0.0, z_in=dg.z_in, c_in=dg.c_in,
            temp_factor=am2.temperature_factor(self.p, self.temp_c),
            mu2_factor=dist.mu2_factor,
            hyd_factor=1.0 - 0.3 * self.agitator.mixing_deficit)
        self.state = am2.rk4_step(self.p, self.state, self.u, dt_s / 86400.0)
        self.out = am2.outputs(self.p, self.state, self.u)
        self._update_gas(dt_h)
        self.analyser.advance(dt_h)
        if self.analyser.status != ANA_PURGE or not self.analyser.held:
            reading = self.analyser_points()[self.analyser.point]
            self.noise.perturb(reading, ANALYSER_SIGMAS)
            self.analyser.held = reading
        self._update_heat(dt_h)
        self._update_level(dt_h)
        if self.elapsed_s >= self._next_titration_s:
            self._next_titration_s += self.cfg.analyser.titration_interval_h * 3600.0
            self._titrate()

    # ---- balances ---------------------------------------------------------------------------
    def _update_gas(self, dt_h: float) -> None:
        an, dist = self.cfg.analyser, self.dist
        k = self.v * am2.NORMAL_MOLAR_VOLUME / 24.0  # mmol/L/d -> Nm³/h
        q_ch4, q_co2 = self.out.q_ch4 * k, self.out.q_co2 * k
        ch4_share = max(q_ch4 / max(q_ch4 + q_co2, 1e-9), 0.35)  # display floor, 6.3.4
        raw = q_ch4 + q_co2
        # gas trapped under a floating layer while the agitator stands, released when it runs
        if self.agitator.running(dist.agitator_tripped):
            release = self.trapped_m3 * (1 - math.exp(-dt_h / 0.08))
        else:
            release = -0.03 * raw * dt_h
        self.trapped_m3 -= release
        raw = max(raw + release / dt_h if dt_h > 0 else raw, 0.0)
        dosing = self.cmd.air_dosing_enable and not dist.air_dosing_failed
        air = raw * an.air_dosing_pct / 100.0 if dosing else 0.0
        air_pct = 100.0 * air / max(raw, 1e-9)
        o2 = 0.21 * air * (1 - an.o2_consumed)
        total = raw + 0.79 * air + o2
        target_h2s = an.h2s_raw_ppm * dist.h2s_factor * math.exp(-an.h2s_removal_per_pct * air_pct)
        if dt_h > 0:
            self.h2s_ppm = target_h2s + (self.h2s_ppm - target_h2s) * math.exp(-dt_h / an.h2s_lag_h)
        ch4_pct = 100.0 * ch4_share * raw / total
        for chp, tripped in zip(self.chps, (dist.chp_tripped, dist.chp2_tripped), strict=False):
            chp.step(dt_h, self.storage.fill, ch4_pct / 100.0, self.cmd.chp_load_pct, tripped)
        leak = min(dist.leak_nm3_h, self.storage.volume_m3 / max(dt_h, 1e-9))
        q_flare = self.storage.step(dt_h, total, self.chp_gas_nm3_h, leak, self.cmd.flare_enable)
        self.flows = {
            "total": total, "air": air, "flare": q_flare, "ch4_pct": ch4_pct,
            "co2_pct": 100.0 * (1 - ch4_share) * raw / total, "o2_pct": 100.0 * o2 / total,
            "h2_ppm": 40.0 + 6.0 * self.state.s2, "leak": leak,
        }

    def _update_heat(self, dt_h: float) -> None:
        dg = self.cfg.digester
        hour = self.hour_of_day()
        t_amb = dg.ambient_temp_c - dg.ambient_swing_c * math.cos(2 * math.pi * (hour - 3) / 24)
        self.heating.step(dt_h, self.temp_c, dg.temp_setpoint_c, sum(c.p_th for c in self.chps),
                          self.dist.heating_failed)
        q_feed_kw = self.q_in_m3_d / 86400.0 * dg.heat_capacity_mj_k_m3 * 1000.0 * (
            self.temp_c - dg.feed_temp_c)
        q_net = self.heating.q_kw - dg.ua_kw_k * (self.temp_c - t_amb) - q_feed_kw
        self.temp_c += q_net * dt_h * 3600.0 / (dg.heat_capacity_mj_k_m3 * 1000.0 * self.v)

    def _update_level(self, dt_h: float) -> None:
        dg = self.cfg.digester
        if self.level_m > dg.level_high_m:
            self.digestate_pump = True
        elif self.level_m < dg.level_low_m:
            self.digestate_pump = False
        if self.digestate_pump:
            self.level_m -= dg.digestate_pump_m3_h * dt_h / dg.area_m2
        self.feed_pump_h = max(self.feed_pump_h - dt_h, 0.0)

    def _titrate(self) -> None:
        s2, z = self.state.s2, self.state.z
        tac = 50.0 * max(z - s2, 0.1 * self.cfg.digester.z_in)
        fos = 60.0 * s2 + self.cfg.digester.fos_bias * tac
        sample = {"dig1.fos": fos, "dig1.tac": tac, "dig1.vfa": 0.060 * s2}
        self.noise.perturb(sample, TITRATOR_SIGMAS)
        sample["dig1.fos_tac"] = min(sample["dig1.fos"] / sample["dig1.tac"], 5.0)
        self.titration = sample

    # ---- output -----------------------------------------------------------------------------
    def analyser_points(self) -> dict[int, dict[str, float]]:
        f = self.flows
        p1 = {"gas.ch4": f["ch4_pct"], "gas.co2": f["co2_pct"], "gas.o2": f["o2_pct"],
              "gas.h2s": self.h2s_ppm, "gas.h2": f["h2_ppm"]}
        p2 = dict(p1, **{"gas.ch4": p1["gas.ch4"] + 1.5, "gas.co2": p1["gas.co2"] - 1.5,
                         "gas.h2s": 0.6 * self.h2s_ppm})
        p3 = dict(p1, **{"gas.h2s": 0.05 * self.h2s_ppm})
        return {1: p1, 2: p2, 3: p3}

    def switched_on(self, tag: str) -> bool:
        """Whether the equipment behind a current or gas-detector tag is on (off: it reads 0)."""
        if tag == "agit1.current":
            return self.agitator.running(self.dist.agitator_tripped)
        if tag == "pump.feed.current":
            return self.feed_pump_h > 0.0
        return self.flows.get("leak", 0.0) > 0.0

    @property
    def chp(self) -> Chp:
        """The first (or only) engine."""
        return self.chps[0]

    @property
    def chp_gas_nm3_h(self) -> float:
        return sum(c.gas_nm3_h for c in self.chps)

    @property
    def chp_running(self) -> bool:
        return self.chp.state in (CHP_STARTING, CHP_RUNNING)

    @property
    def chp_fault(self) -> bool:
        return self.chp.state == CHP_FAULT
