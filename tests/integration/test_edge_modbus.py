"""The poller against a real pymodbus server on loopback: every type in every order, bits,
scale/offset, exception replies, timeouts, a device that vanishes and returns, and a dead device
that does not slow a live one down."""

from __future__ import annotations

import asyncio
import math
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from edge_producer.datatypes import Table, ValueType
from edge_producer.modbus_link import ModbusLink
from streams.events import (
    DeviceStatus,
    Quality,
    ScanRecorded,
)
from tests.integration.modbus_harness import (
    CollectingSink,
    ModbusPeer,
    Unit,
    laid_out,
    plant_of,
    poll_once,
    pollers_of,
)
from tests.waiting import eventually_async


@pytest.fixture
async def peer() -> AsyncIterator[ModbusPeer]:
    server = ModbusPeer({1: Unit(), 2: Unit()})
    await server.start()
    yield server
    await server.stop()


_FORMATS = {"u16": ">H", "i16": ">h", "u32": ">I", "i32": ">i", "u64": ">Q", "i64": ">q",
            "f32": ">f", "f64": ">d"}
_GOLDEN: list[tuple[str, int | float]] = [
    ("f32", 1.0), ("f32", 123456.0), ("f32", -2.5), ("f64", 1.0), ("f64", 123456.0),
    ("f64", -0.1), ("u16", 65535), ("u16", 4660), ("i16", -1234), ("u32", 123456),
    ("u32", 4294967295), ("i32", -123456), ("u64", 2**40 + 5), ("i64", -(2**40 + 5)),
]


async def test_golden_registers_for_one_and_123456_match_the_domain_table() -> None:
    assert laid_out(">f", 1.0, "ABCD") == [0x3F80, 0x0000]
    assert laid_out(">f", 1.0, "BADC") == [0x803F, 0x0000]
    assert laid_out(">f", 123456.0, "CDAB") == [0x2000, 0x47F1]
    assert laid_out(">f", 123456.0, "DCBA") == [0x0020, 0xF147]


async def test_every_type_in_every_order_decodes_to_the_exact_value(peer: ModbusPeer) -> None:
    tags: list[dict[str, Any]] = []
    expected: dict[str, int | float | str] = {}
    address = 0
    for order in ("ABCD", "BADC", "CDAB", "DCBA"):
        for i, (vtype, value) in enumerate(_GOLDEN):
            regs = laid_out(_FORMATS[vtype], value, order)
            peer.units[1].holding[address:address + len(regs)] = regs
            name = f"{vtype}.{order}.{i}"
            tags.append({"name": name, "device": "d1", "register": "holding",
                         "address": address, "type": vtype, "order": order})
            expected[name] = value
            address += len(regs)
    text = b"BIOGAS-1"
    peer.units[1].input[10:14] = [int.from_bytes(text[i:i + 2], "big") for i in range(0, 8, 2)]
    tags.append({"name": "model", "device": "d1", "register": "input", "address": 10,
                 "type": "string", "length": 4})
    expected["model"] = "BIOGAS-1"
    readings = await poll_once(plant_of(peer.port, tags), CollectingSink())
    assert {name: r.value for name, r in readings.items()} == expected
    assert {r.quality for r in readings.values()} == {Quality.GOOD}
    ints = [n for n in expected if not n.startswith(("f32", "f64", "model"))]
    assert all(type(readings[n].value) is int for n in ints)
    assert ValueType.F64.words == 4


async def test_coils_discrete_inputs_bits_and_scaling(peer: ModbusPeer) -> None:
    unit = peer.units[1]
    unit.coil[0], unit.coil[2], unit.discrete[7] = True, True, True
    unit.holding[22] = 0b0010_0101  # alarm word: bits 0, 2, 5
    unit.holding[1] = (-385) & 0xFFFF  # -38.5 °C as int16 x10
    unit.holding[3] = 745  # pH 7.45 as uint16 x100
    unit.holding[4] = 500  # a 4-20 mA style raw value with offset
    tags = [
        {"name": "c0", "device": "d1", "register": "coil", "address": 0, "type": "bool"},
        {"name": "c1", "device": "d1", "register": "coil", "address": 1, "type": "bool"},
        {"name": "c2", "device": "d1", "register": "coil", "address": 2, "type": "bool"},
        {"name": "di7", "device": "d1", "register": "discrete", "address": 7, "type": "bool"},
        {"name": "di6", "device": "d1", "register": "discrete", "address": 6, "type": "bool"},
        {"name": "alarm", "device": "d1", "register": "holding", "address": 22},
        {"name": "alarm.b0", "device": "d1", "register": "holding", "address": 22,
         "type": "bool", "bit": 0},
        {"name": "alarm.b1", "device": "d1", "register": "holding", "address": 22,
         "type": "bool", "bit": 1},
        {"name": "alarm.b5", "device": "d1", "register": "holding", "address": 22,
         "type": "bool", "bit": 5},
        {"name": "temp", "device": "d1", "register": "holding", "address": 1, "type": "i16",
         "scale": 0.1, "unit": "°C", "min": -50, "max": 100},
        {"name": "ph", "device": "d1", "register": "holding", "address": 3, "scale": 0.01,
         "min": 6.0, "max": 7.0},
        {"name": "level", "device": "d1", "register": "holding", "address": 4,
         "scale": 0.5, "offset": -10.0},
    ]
    readings = await poll_once(plant_of(peer.port, tags), CollectingSink())
    values = {name: r.value for name, r in readings.items()}
    assert values == {"c0": True, "c1": False, "c2": True, "di7": True, "di6": False,
                      "alarm": 37, "alarm.b0": True, "alarm.b1": False, "alarm.b5": True,
                      "temp": pytest.approx(-38.5), "ph": pytest.approx(7.45),
                      "level": pytest.approx(240.0)}
    assert readings["ph"].quality is Quality.OUT_OF_RANGE
    assert readings["temp"].quality is Quality.GOOD


async def test_nan_float_is_a_decode_error_not_a_value(peer: ModbusPeer) -> None:
    peer.units[1].input[0:2] = laid_out(">f", math.nan, "CDAB")
    tags = [{"name": "ch4", "device": "d1", "register": "input", "address": 0,
             "type": "f32", "order": "CDAB"}]
    sink = CollectingSink()
    readings = await poll_once(plant_of(peer.port, tags), sink)
    assert readings["ch4"].quality is Quality.DECODE_ERROR
    assert readings["ch4"].value is None
    (status,) = sink.statuses()
    assert status.status is DeviceStatus.DEGRADED and "ch4" in status.reason


async def test_tcp_nodelay_is_set_on_the_connection(peer: ModbusPeer) -> None:
    plant = plant_of(peer.port, [{"name": "a", "device": "d1", "register": "holding",
                                  "address": 0}])
    link = ModbusLink(plant.devices["d1"])
    try:
        assert await link.read(Table.HOLDING, 0, 1, 1) == [0]
        sock = link._client.ctx.transport.get_extra_info("socket")  # type: ignore[union-attr]
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        link.close()


@pytest.mark.parametrize("code", [2, 4, 6])
async def test_exception_reply_gives_quality_and_a_degraded_status(peer: ModbusPeer,
                                                                    code: int) -> None:
    peer.units[1].exception = code
    sink = CollectingSink()
    tags = [{"name": "t", "device": "d1", "register": "holding", "address": 0}]
    readings = await poll_once(plant_of(peer.port, tags), sink)
    assert readings["t"].quality is Quality.DEVICE_EXCEPTION
    assert readings["t"].value is None
    status = sink.statuses("d1")
    assert [(s.status, s.exception_code) for s in status] == [(DeviceStatus.DEGRADED, code)]


async def test_timeout_gives_comm_fail_and_offline_within_the_timeout(peer: ModbusPeer) -> None:
    peer.units[1].silent = True
    sink = CollectingSink()
    tags = [{"name": "a", "device": "d1", "register": "holding", "address": 0},
            {"name": "b", "device": "d1", "register": "input", "address": 0}]
    started = time.monotonic()
    readings = await poll_once(plant_of(peer.port, tags), sink)
    elapsed = time.monotonic() - started
    assert {r.quality for r in readings.values()} == {Quality.COMM_FAIL}
    assert all(r.value is None for r in readings.values())
    assert [s.status for s in sink.statuses()] == [DeviceStatus.OFFLINE]
    # the second request is not tried once the device stopped answering: one timeout only
    assert elapsed < 0.3 * 2, elapsed


async def test_a_device_that_vanishes_and_returns(peer: ModbusPeer) -> None:
    peer.units[1].holding[0] = 7
    sink = CollectingSink()
    plant = plant_of(peer.port, [{"name": "a", "device": "d1", "register": "holding",
                                  "address": 0}], interval_s=0.1)
    poller = pollers_of(plant, sink, backoff_max_s=0.5)["d1"]
    task = asyncio.create_task(poller.run())
    try:
        async def status_is(status: DeviceStatus) -> bool:
            return bool(sink.statuses()) and sink.statuses()[-1].status is status

        await eventually_async(lambda: status_is(DeviceStatus.ONLINE), timeout=5)
        await peer.stop()
        await eventually_async(lambda: status_is(DeviceStatus.OFFLINE), timeout=5)
        offline_at = len(sink.events)
        await peer.start()
        peer.units[1].holding[0] = 8
        await eventually_async(lambda: status_is(DeviceStatus.ONLINE), timeout=10)

        async def fresh_value() -> bool:
            return any(r.value == 8 for s in sink.scans() for r in s.readings)

        await eventually_async(fresh_value, timeout=5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    after = [e for e in sink.events[offline_at:] if isinstance(e, ScanRecorded)]
    # while the device was away nothing was sent as if it had been read
    assert all(r.value in (None, 8) for s in after for r in s.readings)
    assert [s.status for s in sink.statuses()] == [DeviceStatus.ONLINE, DeviceStatus.OFFLINE,
                                                   DeviceStatus.ONLINE]


async def test_a_dead_device_does_not_slow_a_live_one(peer: ModbusPeer) -> None:
    peer.units[2].silent = True  # accepts the connection, never answers
    peer.units[2].delay_s = 0.0
    devices = {
        "live": {"host": "127.0.0.1", "port": peer.port, "unit_id": 1, "timeout_s": 0.5},
        "dead": {"host": "127.0.0.1", "port": peer.port, "unit_id": 2, "timeout_s": 0.5,
                 "retries": 2},
    }
    tags = [{"name": "a", "device": "live", "register": "holding", "address": 0},
            {"name": "b", "device": "dead", "register": "holding", "address": 0}]
    plant = plant_of(peer.port, tags, interval_s=0.05, devices=devices)
    sink = CollectingSink()
    pollers = pollers_of(plant, sink, backoff_max_s=0.2)
    tasks = [asyncio.create_task(p.run()) for p in pollers.values()]
    try:
        async def dead_tried_twice() -> bool:
            return len(sink.scans("dead")) >= 2

        started = time.monotonic()
        live_before = len(sink.scans("live"))
        await eventually_async(dead_tried_twice, timeout=10)
        window = time.monotonic() - started
        live = len(sink.scans("live")) - live_before
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    # each dead cycle takes 3 x 0.5 s; the live device kept its 20 Hz rate meanwhile
    assert window >= 1.5
    assert live >= 0.8 * window / 0.05, (live, window)
    assert {r.quality for s in sink.scans("live") for r in s.readings} == {Quality.GOOD}
    assert {r.quality for s in sink.scans("dead") for r in s.readings} == {Quality.COMM_FAIL}
