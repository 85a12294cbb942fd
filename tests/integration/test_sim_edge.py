"""The edge producer reads the simulated plant through the shipped config: every tag good; and
each injected encoding fault shows up as the expected wrong value or quality code."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from edge_producer.config import PlantConfig
from edge_producer.config_loader import load_plant
from edge_producer.dry_run import read_all
from simulator.runner import RunOptions, SimulatorRun, start_simulator
from simulator.scenario import parse_scenario
from streams.events import DeviceStatus, Quality, Reading

DEMO = Path(__file__).resolve().parents[2] / "configs" / "demo-plant.toml"
GOLDEN_CH4 = 52.5  # 0x42520000: ABCD registers 0x4252 0x0000


def _plant(port: int) -> PlantConfig:
    plant = load_plant(DEMO)
    devices = {name: d.model_copy(update={"host": "127.0.0.1", "port": port, "timeout_s": 0.5,
                                          "retries": 0})
               for name, d in plant.devices.items()}
    return plant.model_copy(update={"devices": devices})


@asynccontextmanager
async def simulated(faults: list[dict[str, Any]]) -> AsyncIterator[SimulatorRun]:
    scenario = parse_scenario({"scenario": {"name": "edge-check", "seed": 3, "speed": 1.0},
                               "faults": faults})
    run = await start_simulator(scenario, RunOptions(port=0, speed=1.0))
    run.pin({"gas.ch4": GOLDEN_CH4})
    try:
        yield run
    finally:
        await run.stop()


def _by_device(plant: PlantConfig, readings: dict[str, Reading]) -> dict[str, list[Reading]]:
    out: dict[str, list[Reading]] = {}
    for tag in plant.tags:
        out.setdefault(tag.device, []).append(readings[tag.name])
    return out


async def test_every_tag_of_the_shipped_config_reads_good() -> None:
    async with simulated([]) as run:
        plant = _plant(run.port)
        readings, statuses = await read_all(plant)
    assert set(readings) == {t.name for t in plant.tags}
    bad = {t: (r.value, r.quality) for t, r in readings.items() if r.quality is not Quality.GOOD}
    assert bad == {}
    assert readings["gas.ch4"].value == GOLDEN_CH4
    assert all(s.status is DeviceStatus.ONLINE for s in statuses)


def _cdab_of_abcd(value: float) -> float:
    """What a CDAB reader decodes from registers written in ABCD (a word swap)."""
    hi, lo = struct.unpack(">HH", struct.pack(">f", value))
    decoded: float = struct.unpack(">f", struct.pack(">HH", lo, hi))[0]
    return decoded


def _cdab_of_badc(value: float) -> float:
    """What a CDAB reader decodes from CDAB registers with their bytes swapped."""
    hi, lo = struct.unpack(">HH", struct.pack(">f", value))
    swap = [int.from_bytes(w.to_bytes(2, "big")[::-1], "big") for w in (lo, hi)]
    decoded: float = struct.unpack(">f", struct.pack(">HH", swap[1], swap[0]))[0]
    return decoded


async def test_word_swap_shows_the_expected_wrong_value() -> None:
    async with simulated([{"kind": "word_swap", "device": "analyser", "start_h": 0,
                           "duration_h": 24}]) as run:
        readings, _ = await read_all(_plant(run.port))
    expected = _cdab_of_abcd(GOLDEN_CH4)
    assert expected != GOLDEN_CH4 and abs(expected) < 1e-30  # the DOMAIN 5.2 symptom
    assert readings["gas.ch4"].value == pytest.approx(expected, rel=1e-6)


async def test_byte_swap_shows_the_expected_wrong_value() -> None:
    async with simulated([{"kind": "byte_swap", "device": "analyser", "start_h": 0,
                           "duration_h": 24}]) as run:
        readings, _ = await read_all(_plant(run.port))
    ch4 = readings["gas.ch4"]
    expected = _cdab_of_badc(GOLDEN_CH4)
    if 0 <= expected <= 100:
        assert ch4.quality is Quality.GOOD
        assert ch4.value == pytest.approx(expected, rel=1e-6)
    else:
        assert ch4.quality in (Quality.OUT_OF_RANGE, Quality.DECODE_ERROR)


@pytest.mark.parametrize("code", [2, 4, 6])
async def test_exception_codes_become_device_exception_quality(code: int) -> None:
    async with simulated([{"kind": "exception", "device": "chp", "start_h": 0,
                           "duration_h": 24, "magnitude": code}]) as run:
        plant = _plant(run.port)
        readings, statuses = await read_all(plant)
    devices = _by_device(plant, readings)
    assert {(r.value, r.quality) for r in devices["chp"]} == {(None, Quality.DEVICE_EXCEPTION)}
    assert all(r.quality is Quality.GOOD for r in devices["plc"])
    assert [(s.device, s.exception_code) for s in statuses if s.device == "chp"] == [
        ("chp", code)]


async def test_a_silent_device_times_out_as_comm_fail() -> None:
    async with simulated([{"kind": "silent", "device": "plc", "start_h": 0,
                           "duration_h": 24}]) as run:
        plant = _plant(run.port)
        readings, statuses = await read_all(plant)
    devices = _by_device(plant, readings)
    assert {(r.value, r.quality) for r in devices["plc"]} == {(None, Quality.COMM_FAIL)}
    assert all(r.quality is Quality.GOOD for r in devices["analyser"])
    assert any(s.device == "plc" and s.status is DeviceStatus.OFFLINE for s in statuses)
