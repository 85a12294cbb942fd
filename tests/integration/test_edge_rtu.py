"""Modbus RTU over a serial line: a pymodbus serial server on one end of a pseudo-terminal pair
(made by socat), the edge producer's RTU client on the other."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pymodbus.server import ModbusSerialServer

from edge_producer.planning import plan_plant
from streams.events import DeviceStatus, Quality
from tests.integration.modbus_harness import (
    CollectingSink,
    ModbusPeer,
    Unit,
    laid_out,
    plant_of,
    poll_once,
)
from tests.waiting import eventually

BAUD = 19200


@pytest.fixture
def serial_pair(tmp_path: Path) -> Iterator[tuple[str, str]]:
    socat = shutil.which("socat")
    assert socat, "socat is needed for the RTU test: apt-get install socat (./dev setup does)"
    a, b = tmp_path / "server-tty", tmp_path / "client-tty"
    proc = subprocess.Popen([socat, f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        eventually(lambda: a.exists() and b.exists(), timeout=10,
                   what="socat to create the pseudo-terminal pair")
        yield str(a), str(b)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
async def rtu_unit(serial_pair: tuple[str, str]) -> AsyncIterator[tuple[Unit, str]]:
    unit = Unit()
    devices = [ModbusPeer({7: unit})._device(7, unit)]
    server = ModbusSerialServer(devices, port=serial_pair[0], baudrate=BAUD,
                                ignore_missing_devices=True)
    await server.serve_forever(background=True)
    try:
        yield unit, serial_pair[1]
    finally:
        await server.shutdown()  # type: ignore[no-untyped-call]


async def test_rtu_device_reads_every_type_over_the_serial_line(
        rtu_unit: tuple[Unit, str]) -> None:
    unit, client_tty = rtu_unit
    unit.holding[0:2] = laid_out(">f", 123456.0, "CDAB")
    unit.holding[2] = 0xFB2E  # -1234 as int16
    unit.holding[4:6] = laid_out(">I", 123456, "ABCD")
    plant = plant_of(0, [
        {"name": "flow", "device": "d1", "register": "holding", "address": 0, "type": "f32",
         "order": "CDAB"},
        {"name": "temp", "device": "d1", "register": "holding", "address": 2, "type": "i16",
         "scale": 0.1},
        {"name": "count", "device": "d1", "register": "holding", "address": 4, "type": "u32"},
    ], devices={"d1": {"protocol": "rtu", "serial_port": client_tty, "baudrate": BAUD,
                       "parity": "N", "stopbits": 1, "unit_id": 7, "timeout_s": 1.0,
                       "retries": 1}})
    assert len(plan_plant(plant)) == 1  # one coalesced read for the three tags
    readings = await poll_once(plant, CollectingSink())
    assert {t: (r.value, r.quality) for t, r in readings.items()} == {
        "flow": (123456.0, Quality.GOOD),
        "temp": (pytest.approx(-123.4), Quality.GOOD),
        "count": (123456, Quality.GOOD),
    }
    assert unit.requests >= 1


async def test_a_silent_rtu_device_is_comm_fail_and_offline(rtu_unit: tuple[Unit, str]) -> None:
    unit, client_tty = rtu_unit
    unit.silent = True
    plant = plant_of(0, [{"name": "x", "device": "d1", "register": "holding", "address": 0}],
                     devices={"d1": {"protocol": "rtu", "serial_port": client_tty,
                                     "baudrate": BAUD, "unit_id": 7, "timeout_s": 0.3,
                                     "retries": 0}})
    sink = CollectingSink()
    readings = await poll_once(plant, sink)
    assert (readings["x"].value, readings["x"].quality) == (None, Quality.COMM_FAIL)
    assert [s.status for s in sink.statuses()] == [DeviceStatus.OFFLINE]
