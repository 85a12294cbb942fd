"""Behaviour of the simulated process against DOMAIN.md: order of acidification signs, heating
failure, CHP trip, steady operation. Pure model, no network; runs accelerated (1 h steps)."""

from __future__ import annotations

from typing import Any

from simulator.engine import Simulation
from simulator.scenario import parse_scenario

HOUR = 3600.0
DAY = 86400.0


def _run(faults: list[dict[str, Any]], days: float, seed: int = 11,
         plant: dict[str, Any] | None = None) -> list[tuple[float, dict[str, float]]]:
    data: dict[str, Any] = {"scenario": {"seed": seed}, "faults": faults}
    if plant:
        data["plant"] = plant
    sim = Simulation(parse_scenario(data))
    return sim.run(days * DAY, HOUR)


def _series(rows: list[tuple[float, dict[str, float]]], tag: str, window: int = 6
            ) -> list[tuple[float, float]]:
    """(time in days, rolling mean over ``window`` samples) for one tag."""
    out = []
    for i in range(len(rows)):
        chunk = rows[max(0, i - window + 1): i + 1]
        out.append((rows[i][0] / DAY, sum(r[1][tag] for r in chunk) / len(chunk)))
    return out


def _baseline(series: list[tuple[float, float]], until_day: float) -> float:
    vals = [v for t, v in series if 0.5 <= t < until_day]
    return sum(vals) / len(vals)


def _first_crossing(series: list[tuple[float, float]], after_day: float, threshold: float,
                    rising: bool) -> float | None:
    for t, v in series:
        if t >= after_day and (v > threshold if rising else v < threshold):
            return t
    return None


def test_normal_operation_matches_the_default_scenario() -> None:
    rows = _run([], days=3)
    late = [r[1] for r in rows[24:]]

    def mean(tag: str) -> float:
        return sum(v[tag] for v in late) / len(late)

    assert 49.0 < mean("gas.ch4") < 56.0  # DOMAIN.md 1: ~52 % CH4 (energy crops 50-55 %)
    assert 215.0 < mean("gas.flow_chp") < 270.0  # ~240 Nm³/h to the 500 kW CHP
    assert 480.0 < mean("chp.p_el") < 510.0
    assert 7.0 < mean("dig1.ph") < 8.0
    assert 0.15 < mean("dig1.fos_tac") < 0.4
    assert 39.0 < mean("dig1.temp") < 41.0
    assert min(v["gas.holder_fill"] for v in late) > 20.0
    assert max(v["gas.holder_fill"] for v in late) < 90.0
    assert all(v["flare.on"] == 0.0 for v in late)
    assert mean("gas.h2s") < 250.0  # desulphurised by air dosing


def test_overload_fos_tac_rises_before_ch4_falls_before_ph_falls() -> None:
    onset = 2.0
    rows = _run([{"kind": "overload", "start_h": onset * 24, "duration_h": 20 * 24,
                  "magnitude": 2.6, "ramp_h": 120}], days=14)
    fos = _series(rows, "dig1.fos_tac", window=1)
    ch4 = _series(rows, "gas.ch4")
    ph = _series(rows, "dig1.ph")
    t_fos = _first_crossing(fos, onset, _baseline(fos, onset) + 0.05, rising=True)
    t_ch4 = _first_crossing(ch4, onset, _baseline(ch4, onset) - 3.0, rising=False)
    t_ph = _first_crossing(ph, onset, _baseline(ph, onset) - 0.2, rising=False)
    assert t_fos is not None and t_ch4 is not None and t_ph is not None, (t_fos, t_ch4, t_ph)
    assert t_fos < t_ch4 < t_ph, (t_fos, t_ch4, t_ph)
    # pH is the late sign: days after FOS/TAC (DOMAIN.md 3.3)
    assert t_ph - t_fos > 1.0


def test_heating_failure_cools_slowly_and_lowers_gas_flow() -> None:
    onset = 1.0
    rows = _run([{"kind": "heating_failure", "start_h": onset * 24, "duration_h": 10 * 24}],
                days=6)
    temp = _series(rows, "dig1.temp")
    gas = _series(rows, "gas.flow_total", window=24)
    t_before = _baseline(temp, onset)
    t_after = temp[-1][1]
    rate = (t_before - t_after) / (temp[-1][0] - onset)
    assert 0.2 <= rate <= 1.0, rate  # °C/day, DOMAIN.md 3.1
    g_before = _baseline(gas, onset)
    assert gas[-1][1] < 0.97 * g_before, (gas[-1][1], g_before)
    last = rows[-1][1]
    assert abs(last["heat.supply_temp"] - last["heat.return_temp"]) < 1.5  # ΔT -> 0
    assert int(last["plc.alarm_word"]) & (1 << 5)  # heating-fault bit


def test_chp_trip_sends_gas_to_the_flare_and_fills_the_holder() -> None:
    onset_h = 12
    rows = _run([{"kind": "chp_trip", "start_h": onset_h, "duration_h": 24}], days=2)
    before = rows[onset_h - 1][1]
    during = rows[onset_h + 2][1]
    assert during["chp.p_el"] == 0.0
    assert during["chp.state"] == 4.0 and during["chp.fault_code"] > 0
    assert during["gas.holder_fill"] > before["gas.holder_fill"] + 5.0
    flare_hours = [r for r in rows[onset_h: onset_h + 24] if r[1]["flare.on"] == 1.0]
    assert flare_hours, "flare never started"
    assert max(r[1]["gas.flow_flare"] for r in flare_hours) > 150.0
    # after the trip clears the engine restarts
    assert rows[-1][1]["chp.state"] in (1.0, 2.0)


def test_same_seed_same_output_other_seed_differs() -> None:
    faults = [{"kind": "spikes", "target": "dig1.ph", "start_h": 2, "duration_h": 5,
               "probability": 0.5}]
    a = _run(faults, days=0.5, seed=5)
    b = _run(faults, days=0.5, seed=5)
    c = _run(faults, days=0.5, seed=6)
    assert a == b
    assert a != c
