"""Signatures of the process faults (DOMAIN.md 4.1) and the register-level link faults."""

from __future__ import annotations

from typing import Any

from simulator.engine import Simulation
from simulator.registers import ANALYSER, PLC, decode_value
from simulator.scenario import parse_scenario
from simulator.server import PlantModbusServer

HOUR = 3600.0


def _sim(faults: list[dict[str, Any]], seed: int = 4) -> Simulation:
    return Simulation(parse_scenario({"scenario": {"seed": seed}, "faults": faults}))


def _mean(rows: list[tuple[float, dict[str, float]]], tag: str) -> float:
    return sum(r[1][tag] for r in rows) / len(rows)


def test_h2s_spike_and_air_dosing_failure() -> None:
    step = 420.0  # 7 min: samples every phase of the 3 x 10 min analyser cycle
    base = _sim([]).run(12 * HOUR, step)
    spike = _sim([{"kind": "h2s_spike", "start_h": 0, "duration_h": 12}]).run(12 * HOUR, step)
    air = _sim([{"kind": "air_dosing_failure", "start_h": 0, "duration_h": 12}]).run(
        12 * HOUR, step)

    def point1(rows: list[tuple[float, dict[str, float]]]) -> list[tuple[float, dict[str, float]]]:
        """Valid digester readings (sample point 1, not purging) of the last hours."""
        return [r for r in rows[-50:]
                if r[1]["ana.sample_point"] == 1.0 and r[1]["ana.status"] == 0.0]

    assert _mean(point1(spike), "gas.h2s") > 5 * _mean(point1(base), "gas.h2s")
    assert _mean(point1(air), "gas.h2s") > 1000.0  # raw gas, no biological desulphurisation
    assert _mean(point1(air), "gas.o2") < 0.05 < _mean(point1(base), "gas.o2")
    assert _mean(air[-36:], "air.dosing_on") == 0.0


def test_foaming_shows_on_level_and_pressure() -> None:
    base = _sim([]).run(6 * HOUR, 300.0)
    foam = _sim([{"kind": "foaming", "start_h": 0, "duration_h": 6, "magnitude": 0.8}]).run(
        6 * HOUR, 300.0)
    assert _mean(foam, "dig1.level") > _mean(base, "dig1.level") + 0.6
    spread = max(r[1]["gas.pressure"] for r in foam) - min(r[1]["gas.pressure"] for r in foam)
    assert spread > 1.5
    assert any(int(r[1]["plc.alarm_word"]) & (1 << 2) for r in foam)  # level high-high


def test_agitator_trip_signature() -> None:
    rows = _sim([{"kind": "agitator_failure", "start_h": 0, "duration_h": 48}]).run(
        48 * HOUR, 600.0)
    commanded = [r for r in rows if r[1]["agit1.run"] == 1.0]
    assert commanded, "interval timer never commanded a run"
    assert all(r[1]["agit1.current"] == 0.0 and r[1]["agit1.speed"] == 0.0 for r in commanded)
    assert all(int(r[1]["plc.alarm_word"]) & (1 << 4) for r in rows)
    last = rows[-1][1]
    assert last["dig1.temp_top"] - last["dig1.temp_bottom"] > 0.6  # stratification


def test_gas_leak_lel_alarm_and_fill_loss() -> None:
    base = _sim([]).run(12 * HOUR, 600.0)
    leak = _sim([{"kind": "gas_leak", "start_h": 0, "duration_h": 12, "magnitude": 25}]).run(
        12 * HOUR, 600.0)
    assert leak[-1][1]["gas.holder_fill"] < base[-1][1]["gas.holder_fill"] - 5.0
    assert leak[-1][1]["safety.ch4_lel"] >= 20.0
    assert leak[-1][1]["safety.gas_alarm"] == 1.0
    assert int(leak[-1][1]["plc.alarm_word"]) & (1 << 3)
    assert base[-1][1]["safety.ch4_lel"] == 0.0


def test_frozen_and_shifted_registers() -> None:
    sim = _sim([{"kind": "frozen", "device": "plc", "start_h": 1, "duration_h": 5},
                {"kind": "address_shift", "device": "analyser", "start_h": 1,
                 "duration_h": 5}])
    server = PlantModbusServer(sim, port=0)  # registers only; not started
    sim.advance(2 * HOUR)
    server.refresh()
    frozen = list(server.images["plc"])
    ana = server.images["analyser"]
    sim.advance(HOUR)
    server.refresh()
    assert server.images["plc"] == frozen
    assert ana[0] == 0 and 40.0 < decode_value(ANALYSER, [*ana[1:], 0], "gas.ch4") < 60.0
    sim.advance(4 * HOUR)  # faults over
    server.refresh()
    assert server.images["plc"] != frozen
    assert decode_value(PLC, server.images["plc"], "plc.heartbeat") > 0
