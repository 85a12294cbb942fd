"""The simulator's Modbus server on loopback, read back with pymodbus's async client."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from simulator.labels import read_labels
from simulator.registers import (
    ANALYSER,
    CHP,
    PLC,
    WORD_ORDERS,
    DeviceProfile,
    WordOrder,
    decode_value,
)
from simulator.runner import RunOptions, SimulatorRun, start_simulator
from simulator.scenario import parse_scenario
from simulator.server import SimulatorServerError


async def _eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met before the deadline")


async def _start(faults: list[dict[str, Any]], speed: float = 60.0) -> SimulatorRun:
    sc = parse_scenario({"scenario": {"seed": 3, "speed": speed}, "faults": faults})
    return await start_simulator(sc, RunOptions(port=0, tick_s=0.02))


@pytest.fixture
async def client_factory() -> AsyncIterator[Callable[[int], Awaitable[AsyncModbusTcpClient]]]:
    clients: list[AsyncModbusTcpClient] = []

    async def make(port: int) -> AsyncModbusTcpClient:
        c = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=0.5, retries=0)
        assert await c.connect()
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


async def _read(c: AsyncModbusTcpClient, prof: DeviceProfile) -> list[int]:
    if prof.table == "ir":
        r = await c.read_input_registers(0, count=prof.size, device_id=prof.unit_id)
    else:
        r = await c.read_holding_registers(0, count=prof.size, device_id=prof.unit_id)
    assert not r.isError(), r
    return list(r.registers)


async def test_three_units_serve_plausible_values(
        client_factory: Callable[[int], Awaitable[AsyncModbusTcpClient]]) -> None:
    run = await _start([])
    try:
        c = await client_factory(run.port)
        plc, ana, chp = await _read(c, PLC), await _read(c, ANALYSER), await _read(c, CHP)
        assert 38.0 < decode_value(PLC, plc, "dig1.temp_top") < 42.0
        assert 7.0 < decode_value(PLC, plc, "dig1.ph") < 8.0
        assert 150.0 < decode_value(PLC, plc, "gas.flow_chp") < 350.0
        assert 45.0 < decode_value(ANALYSER, ana, "gas.ch4") < 60.0
        assert decode_value(CHP, chp, "chp.state") == 2.0
        assert decode_value(CHP, chp, "chp.hours") >= 12000.0
        beat0 = decode_value(PLC, plc, "plc.heartbeat")

        async def heartbeat_moved() -> bool:
            return decode_value(PLC, await _read(c, PLC), "plc.heartbeat") != beat0

        await _eventually(heartbeat_moved)
        di = await c.read_discrete_inputs(0, count=8, device_id=1)
        assert di.bits[3] is True  # CHP run feedback
        # a coil write reaches the plant
        w = await c.write_coil(0, False, device_id=1)
        assert not w.isError()
        assert run.sim.plant.cmd.air_dosing_enable is False
        # reading past the map is an illegal-address exception
        bad = await c.read_holding_registers(0, count=PLC.size + 4, device_id=1)
        assert bad.isError() and bad.exception_code == 2
    finally:
        await run.stop()


@pytest.mark.parametrize("order", WORD_ORDERS)
async def test_golden_floats_in_every_word_order(
        order: WordOrder,
        client_factory: Callable[[int], Awaitable[AsyncModbusTcpClient]]) -> None:
    run = await _start([])
    try:
        prof = ANALYSER.with_order(order)
        run.server.profiles["analyser"] = prof
        run.pin({"gas.ch4": 1.0, "gas.co2": 123456.0})
        c = await client_factory(run.port)
        regs = await _read(c, ANALYSER)
        expected = {"ABCD": ([0x3F80, 0x0000], [0x47F1, 0x2000]),
                    "CDAB": ([0x0000, 0x3F80], [0x2000, 0x47F1]),
                    "BADC": ([0x803F, 0x0000], [0xF147, 0x0020]),
                    "DCBA": ([0x0000, 0x803F], [0x0020, 0xF147])}[order]
        assert regs[0:2] == expected[0]
        assert regs[2:4] == expected[1]
        assert decode_value(prof, regs, "gas.ch4") == 1.0
        assert decode_value(prof, regs, "gas.co2") == 123456.0
    finally:
        await run.stop()


async def test_link_faults_show_up_on_the_wire(
        client_factory: Callable[[int], Awaitable[AsyncModbusTcpClient]]) -> None:
    # 60x: 1 simulated hour = 60 s wall, so put the faults at the start
    run = await _start([
        {"kind": "exception", "device": "chp", "start_h": 0, "duration_h": 10, "magnitude": 6},
        {"kind": "word_swap", "device": "analyser", "start_h": 0, "duration_h": 10},
        {"kind": "silent", "device": "plc", "start_h": 0, "duration_h": 10},
        {"kind": "dropout", "target": "gas.h2s", "start_h": 0, "duration_h": 10},
    ])
    try:
        c = await client_factory(run.port)
        r = await c.read_holding_registers(0, count=CHP.size, device_id=3)
        assert r.isError() and r.exception_code == 6
        regs = await _read(c, ANALYSER)
        ch4_ok = decode_value(ANALYSER, regs, "gas.ch4")
        assert not 30.0 < ch4_ok < 70.0  # decoded with the configured order: garbage
        swapped = ANALYSER.with_order("ABCD")
        assert 30.0 < decode_value(swapped, regs, "gas.ch4") < 70.0
        assert math.isnan(decode_value(swapped, regs, "gas.h2s"))  # invalid sentinel: NaN
        with pytest.raises(ModbusException):
            await c.read_holding_registers(0, count=PLC.size, device_id=1)
    finally:
        await run.stop()


async def test_accelerated_run_writes_labels(tmp_path: Path) -> None:
    labels = tmp_path / "labels.jsonl"
    sc = parse_scenario({"scenario": {"seed": 1, "speed": 36000.0, "duration_h": 3},
                         "faults": [{"kind": "chp_trip", "start_h": 1, "duration_h": 1},
                                    {"kind": "stuck", "target": "dig1.ph", "start_h": 2,
                                     "duration_h": 5}]})
    run = await start_simulator(sc, RunOptions(port=0, tick_s=0.01, labels=labels))
    try:
        await asyncio.wait_for(run.wait(), timeout=10.0)
    finally:
        await run.stop()
    got = read_labels(labels)
    assert [(g["kind"], g["target"], g["device"]) for g in got] == [
        ("chp_trip", "plant", None), ("stuck", "dig1.ph", "plc")]
    assert got[0]["start"] == "2026-01-01T01:00:00+00:00"
    assert got[0]["end"] == "2026-01-01T02:00:00+00:00"


def test_cli_run_finishes_a_short_scenario(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli.sim_cmd import sim_app

    labels = tmp_path / "labels.jsonl"
    result = CliRunner().invoke(sim_app, [
        "run", "--scenario", "chp_trip", "--speed", "360000", "--seed", "9", "--port", "0",
        "--labels", str(labels), "--duration-h", "8", "--start", "2026-06-01T00:00:00"])
    assert result.exit_code == 0, result.output
    assert labels.read_text().count("chp_trip") == 1
    assert '"start":"2026-06-01T06:00:00+00:00"' in labels.read_text()


async def test_port_in_use_is_a_clear_error() -> None:
    first = await _start([])
    try:
        sc = parse_scenario({})
        with pytest.raises(SimulatorServerError, match="choose another --port"):
            await start_simulator(sc, RunOptions(port=first.port))
    finally:
        await first.stop()
