"""Scenario files, fault application and labels."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from simulator.engine import Simulation
from simulator.faults import ActiveFault, apply_sensor, link_state
from simulator.labels import LabelWriter, read_labels
from simulator.noise import Noise
from simulator.scenario import ScenarioError, list_scenarios, load_scenario, parse_scenario


def test_shipped_scenarios_load() -> None:
    names = list_scenarios()
    for required in ("normal", "overload", "heating_failure", "chp_trip", "sensor_faults",
                     "demo"):
        assert required in names
    for name in names:
        assert load_scenario(name).scenario.name == name


def test_plant_overrides_merge_over_defaults() -> None:
    sc = parse_scenario({"plant": {"digester": {"am2": {"mu2max": 0.05}}}})
    assert sc.plant.digester.am2.mu2max == 0.05
    assert sc.plant.digester.am2.k5 == 285.0  # the rest keeps the plant defaults
    assert sc.plant.digester.volume_m3 == 2500.0


def test_errors_name_the_key_path_and_the_fix(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text('[[faults]]\nkind = "stuck"\nstart_h = 1\nduration_h = 2\n\n'
                 '[[faults]]\nkind = "melt"\nstart_h = 1\nduration_h = 2\n')
    with pytest.raises(ScenarioError) as err:
        load_scenario(f)
    msg = str(err.value)
    assert "bad.toml" in msg
    assert "faults[0]" in msg and "target" in msg
    assert "faults[1].kind" in msg
    with pytest.raises(ScenarioError, match=r"plant\.digester\.volume_m3"):
        parse_scenario({"plant": {"digester": {"volume_m3": -1}}})
    with pytest.raises(ScenarioError, match="not valid TOML"):
        (tmp_path / "x.toml").write_text("[scenario\n")
        load_scenario(tmp_path / "x.toml")
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.toml")


def test_sensor_faults_change_values() -> None:
    noise = Noise(1)
    stuck = ActiveFault("stuck", 0.0, 7200.0, target="a")
    drift = ActiveFault("drift", 0.0, 7200.0, target="b", magnitude=1.0)
    drop = ActiveFault("dropout", 0.0, 7200.0, target="c")
    scale = ActiveFault("wrong_scaling", 0.0, 7200.0, target="d", magnitude=10.0)
    faults = [stuck, drift, drop, scale]
    v1 = {"a": 1.0, "b": 1.0, "c": 1.0, "d": 3.85}
    apply_sensor(v1, faults, 10.0, noise)
    v2 = {"a": 2.0, "b": 1.0, "c": 1.0, "d": 3.85}
    apply_sensor(v2, faults, 3600.0, noise)
    assert v1["a"] == v2["a"] == 1.0
    assert v2["b"] == pytest.approx(2.0)
    assert math.isnan(v2["c"])
    assert v2["d"] == pytest.approx(38.5)
    v3 = {"a": 5.0, "b": 1.0, "c": 1.0, "d": 1.0}
    apply_sensor(v3, faults, 8000.0, noise)  # after the end: untouched
    assert v3 == {"a": 5.0, "b": 1.0, "c": 1.0, "d": 1.0}


def test_link_state_combines_faults() -> None:
    faults = [ActiveFault("word_swap", 0, 10, device="plc"),
              ActiveFault("exception", 0, 10, device="plc", magnitude=4),
              ActiveFault("silent", 0, 10, device="chp")]
    plc = link_state("plc", faults, 5)
    assert plc.word_swap and plc.exception_code == 4 and plc.no_reply_share == 0.0
    assert link_state("chp", faults, 5).no_reply_share == 1.0
    assert link_state("plc", faults, 11).exception_code == 0


def test_labels_are_written_once_per_fault(tmp_path: Path) -> None:
    sc = load_scenario("sensor_faults")
    path = tmp_path / "labels.jsonl"
    writer = LabelWriter(path)
    sim = Simulation(sc, labels=writer)
    sim.run(24 * 3600.0, 900.0)
    writer.close()
    got = read_labels(path)
    assert len(got) == len(sc.faults)
    assert {g["family"] for g in got} == {"sensor", "link"}
    first = got[0]
    assert first["kind"] == "stuck" and first["target"] == "dig1.ph" and first["device"] == "plc"
    assert first["start"] == "2026-03-01T01:00:00+00:00"
    assert first["end"] == "2026-03-01T05:00:00+00:00"


def test_repeat_h_repeats_the_fault_schedule() -> None:
    sc = load_scenario("demo")
    assert sc.scenario.repeat_h == 24.0 and sc.scenario.duration_h is None
    sim = Simulation(sc)
    sim.run(74 * 3600.0, 1800.0)
    got = sim.labels.written
    # the first day is healthy (the agents commission the plant); then days 2 and 3, and day
    # 4's first fault starts at 03:00
    assert len(got) == 2 * len(sc.faults)
    trips = [g["start"] for g in got if g["kind"] == "chp_trip"]
    assert trips == ["2026-03-02T09:00:00+00:00", "2026-03-03T09:00:00+00:00"]
    # finished cycles are dropped: what is kept are the cycles whose faults have not ended
    # (the demo's faults come a day into their cycle, so one more cycle waits)
    assert len(sim.faults) <= 4 * len(sc.faults)
