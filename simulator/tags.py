"""Assemble the tag catalogue (DOMAIN.md section 2, ids as in the register map of 5.8) from the
plant's state. Booleans are 0.0/1.0."""

from __future__ import annotations

import math

from simulator.equipment import CHP_RUNNING, CHP_STARTING, Chp
from simulator.noise import DEFAULT_SIGMAS
from simulator.plant import Plant

ALARM_BITS = ("overpressure", "underpressure", "level_hh", "ch4_lel", "agitator_trip",
              "heating_fault")


def alarm_word(flags: dict[str, bool]) -> int:
    """PLC alarm word: bit i set when ``ALARM_BITS[i]`` is active."""
    return sum(1 << i for i, name in enumerate(ALARM_BITS) if flags.get(name, False))


def plant_tags(plant: Plant) -> dict[str, float]:
    """The plant's tag values now, as its sensors read them: with measurement noise,
    equipment that is off reading 0, the holder fill within 0-100 % (analyser and titrator
    channels hold between readings)."""
    values = build_tags(plant)
    plant.noise.perturb(values, DEFAULT_SIGMAS)
    for tag in ("agit1.current", "pump.feed.current", "safety.ch4_lel"):
        if values[tag] < 0.0 or not plant.switched_on(tag):
            values[tag] = 0.0
    values["gas.holder_fill"] = min(max(values["gas.holder_fill"], 0.0), 100.0)
    return values


def build_tags(plant: Plant) -> dict[str, float]:
    """All tags of the plant at its current time, before measurement noise."""
    d, chp, stor = plant.dist, plant.chp, plant.storage
    cfg = plant.cfg
    f = plant.flows
    hour = plant.hour_of_day()

    solar = cfg.storage.solar_swing * max(math.sin(math.pi * (hour - 7.0) / 12.0), 0.0)
    fill_pct = 100.0 * min(stor.fill * (1.0 + solar), 1.0)
    strat = 1.0 * plant.agitator.mixing_deficit
    agit_run = plant.agitator.running(d.agitator_tripped)
    foam = d.foam_m
    pressure = stor.pressure_mbar()
    if foam > 0.0:
        pressure += 2.0 * foam * math.sin(plant.elapsed_s / 97.0)
    level = plant.level_m + foam
    lel = min(1.5 * f["leak"], 100.0)
    flags = {
        "overpressure": pressure > 10.0, "underpressure": pressure < 0.8,
        "level_hh": level > cfg.digester.level_hh_m, "ch4_lel": lel >= 20.0,
        "agitator_trip": d.agitator_tripped, "heating_fault": d.heating_failed,
    }
    flow_chp = plant.chp_gas_nm3_h
    if foam > 0.0:  # foam in the gas pipes makes the meter erratic and low
        flow_chp *= 0.75 + 0.2 * math.sin(plant.elapsed_s / 53.0)
    values: dict[str, float] = {
        "plc.heartbeat": float(int(plant.elapsed_s) % 65536),
        "dig1.temp": plant.temp_c,
        "dig1.temp_top": plant.temp_c + 0.1 + strat,
        "dig1.temp_bottom": plant.temp_c - 0.1 - strat,
        "dig1.ph": plant.out.ph,
        "dig1.level": level,
        "gas.pressure": pressure,
        "gas.holder_fill": fill_pct,
        "agit1.current": cfg.agitator.current_a * (1.0 + 0.2 * plant.agitator.mixing_deficit)
        if agit_run else 0.0,
        "agit1.speed": cfg.agitator.speed_rpm if agit_run else 0.0,
        "pump.feed.current": 11.0 if plant.feed_pump_h > 0 else 0.0,
        "gas.flow_chp": flow_chp,
        "gas.flow_flare": f["flare"],
        "gas.flow_total": f["total"],
        "feed.solid_today": plant.solid_today_t,
        "feed.solid_total": plant.solid_total_kg,
        "feed.portion": plant.last_portion_kg,
        "feed.feeder_weight": plant.feeder_t,
        "feed.liquid_m3": plant.liquid_today_m3,
        "heat.supply_temp": plant.heating.supply_c,
        "heat.return_temp": plant.heating.return_c,
        "heat.q_kw": plant.heating.q_kw,
        "air.dosing_flow": f["air"],
        "plc.alarm_word": float(alarm_word(flags)),
        "agit1.run": float(plant.agitator.command),
        "pump.feed.run": float(plant.feed_pump_h > 0),
        "flare.on": float(stor.flare_on),
        "chp.run": float(plant.chp_running),
        "gas.blower_run": 1.0,
        "air.dosing_on": float(f["air"] > 0.0),
        "gas.overpressure_valve": float(stor.fill >= 0.999),
        "safety.gas_alarm": float(lel >= 20.0),
        "safety.ch4_lel": lel,
        "ana.status": float(plant.analyser.status),
        "ana.sample_point": float(plant.analyser.point),
        "chp.p_el": chp.p_el,
        "chp.p_th": chp.p_th,
        "chp.hours": chp.hours,
        "chp.energy_el": chp.energy_kwh,
        "chp.gas_flow": chp.gas_nm3_h,
        "chp.state": float(chp.state),
        "chp.fault_code": float(chp.fault_code),
        "chp.load_setpoint": plant.cmd.chp_load_pct,
        "chp.exhaust_temp": chp.exhaust_c,
        "chp.coolant_temp": chp.coolant_c,
    }
    for n, unit in enumerate(plant.chps[1:], start=2):
        values.update(engine_tags(unit, f"chp{n}", plant.cmd.chp_load_pct))
    values.update(plant.analyser.held)
    values.update(plant.titration)
    return values


def engine_tags(chp: Chp, prefix: str, load_pct: float) -> dict[str, float]:
    """The controller tags of one more CHP unit (the first one's are in the register map)."""
    return {
        f"{prefix}.p_el": chp.p_el, f"{prefix}.p_th": chp.p_th, f"{prefix}.hours": chp.hours,
        f"{prefix}.energy_el": chp.energy_kwh, f"{prefix}.gas_flow": chp.gas_nm3_h,
        f"{prefix}.state": float(chp.state), f"{prefix}.fault_code": float(chp.fault_code),
        f"{prefix}.load_setpoint": load_pct, f"{prefix}.exhaust_temp": chp.exhaust_c,
        f"{prefix}.coolant_temp": chp.coolant_c,
        f"{prefix}.run": float(chp.state in (CHP_STARTING, CHP_RUNNING)),
    }
