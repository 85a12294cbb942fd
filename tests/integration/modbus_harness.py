"""A real pymodbus server on loopback for the edge tests (units with holding and input
registers, coils and discrete inputs, replies that can fail or stall), a sink that collects
what the pollers emit, and the register layouts of every type and word order."""

from __future__ import annotations

import asyncio
import socket
import struct
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from edge_producer.config import PlantConfig
from edge_producer.metrics import EdgeMetrics
from edge_producer.modbus_link import ModbusLink
from edge_producer.planning import plan_plant
from edge_producer.poller import DevicePoller
from streams.events import (
    DeviceStatusChanged,
    EdgeEvent,
    Reading,
    ScanRecorded,
)

_SIZE = 512


_BIT_FC = {1: "coil", 2: "discrete"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Unit:
    """One unit's tables and the faults it shows (exception code, silence, delay)."""

    holding: list[int] = field(default_factory=lambda: [0] * _SIZE)
    input: list[int] = field(default_factory=lambda: [0] * _SIZE)
    coil: list[bool] = field(default_factory=lambda: [False] * _SIZE)
    discrete: list[bool] = field(default_factory=lambda: [False] * _SIZE)
    exception: int | None = None
    silent: bool = False
    delay_s: float = 0.0
    requests: int = 0


def _pack(bits: list[bool]) -> list[int]:
    return [sum(1 << j for j, b in enumerate(bits[i:i + 16]) if b)
            for i in range(0, len(bits), 16)]


class ModbusPeer:
    """A pymodbus TCP server on 127.0.0.1 serving :class:`Unit` images; stop and start it
    again on the same port to make a device vanish and return."""

    def __init__(self, units: dict[int, Unit], port: int | None = None) -> None:
        self.units = units
        self.port = port or free_port()
        self._server: ModbusTcpServer | None = None

    def _device(self, unit_id: int, unit: Unit) -> SimDevice:
        async def action(fc: int, _start: int, _address: int, _count: int,
                         registers: list[int],
                         set_values: list[int] | list[bool] | None) -> ExcCodes | None:
            unit.requests += 1
            if unit.delay_s:
                await asyncio.sleep(unit.delay_s)
            if unit.silent:
                raise NoSuchIdException("silent")
            if unit.exception is not None:
                return ExcCodes(unit.exception)
            kind = _BIT_FC.get(fc)
            if kind == "coil":
                src = _pack(unit.coil)
            elif kind == "discrete":
                src = _pack(unit.discrete)
            else:
                src = unit.holding if fc == 3 else unit.input
            registers[: len(src)] = src
            return None

        blocks = ([SimData(0, values=[False] * _SIZE, datatype=DataType.BITS)],
                  [SimData(0, values=[False] * _SIZE, datatype=DataType.BITS)],
                  [SimData(0, count=_SIZE, values=0, datatype=DataType.REGISTERS)],
                  [SimData(0, count=_SIZE, values=0, datatype=DataType.REGISTERS)])
        return SimDevice(unit_id, simdata=blocks, action=action)

    async def start(self) -> None:
        devices = [self._device(uid, unit) for uid, unit in self.units.items()]
        server = ModbusTcpServer(devices, address=("127.0.0.1", self.port),
                                 ignore_missing_devices=True)
        await server.serve_forever(background=True)
        self._server = server

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]
            self._server = None


class CollectingSink:
    """Numbers events like the journal and keeps them in memory."""

    def __init__(self) -> None:
        self.plant_id = "plant-t"
        self.boot_id: UUID = uuid4()
        self.events: list[EdgeEvent] = []
        self._seq = 0

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq - 1

    async def append(self, event: EdgeEvent) -> None:
        self.events.append(event)

    def scans(self, device: str | None = None) -> list[ScanRecorded]:
        return [e for e in self.events if isinstance(e, ScanRecorded)
                and (device is None or e.device == device)]

    def statuses(self, device: str | None = None) -> list[DeviceStatusChanged]:
        return [e for e in self.events if isinstance(e, DeviceStatusChanged)
                and (device is None or e.device == device)]


def plant_of(port: int, tags: list[dict[str, Any]], *, interval_s: float = 1.0,
             devices: dict[str, dict[str, Any]] | None = None) -> PlantConfig:
    devices = devices or {"d1": {"host": "127.0.0.1", "port": port, "unit_id": 1,
                                 "timeout_s": 0.3, "retries": 0}}
    return PlantConfig.model_validate({
        "plant_id": "plant-t", "devices": devices,
        "poll_groups": {"default": {"interval_s": interval_s}}, "tags": tags})


def pollers_of(plant: PlantConfig, sink: CollectingSink, *,
               backoff_max_s: float = 1.0) -> dict[str, DevicePoller]:
    plans = plan_plant(plant)
    metrics = EdgeMetrics()
    return {name: DevicePoller(name, device, [p for p in plans if p.device == name],
                               ModbusLink(device), sink, metrics, backoff_max_s=backoff_max_s)
            for name, device in plant.devices.items()}


async def poll_once(plant: PlantConfig, sink: CollectingSink) -> dict[str, Reading]:
    """One poll of every group of device d1; the readings of its scan by tag."""
    poller = pollers_of(plant, sink)["d1"]
    try:
        for plan in plan_plant(plant):
            await poller.poll(plan)
    finally:
        poller.close()
    return {r.tag: r for scan in sink.scans() for r in scan.readings}


#: Byte positions for each order name: a value's big-endian bytes A B C D (E F G H) are laid
#: out in the registers in this order (DOMAIN.md 5.2; 64-bit equivalents).
_LAYOUT = {4: {"ABCD": "ABCD", "BADC": "BADC", "CDAB": "CDAB", "DCBA": "DCBA"},
           8: {"ABCD": "ABCDEFGH", "BADC": "BADCFEHG", "CDAB": "GHEFCDAB",
               "DCBA": "HGFEDCBA"},
           2: {"ABCD": "AB", "BADC": "BA", "CDAB": "AB", "DCBA": "BA"}}


def laid_out(fmt: str, value: int | float, order: str) -> list[int]:
    raw = struct.pack(fmt, value)
    layout = _LAYOUT[len(raw)][order]
    data = bytes(raw[ord(letter) - ord("A")] for letter in layout)
    return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]
