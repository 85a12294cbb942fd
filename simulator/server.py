"""Modbus TCP server for the simulated plant (pymodbus): three units (PLC, gas analyser, CHP
controller) on one port, each with its own profile. Every request goes through an action hook
that copies the latest register image in, applies link faults (exception codes, unanswered
requests) and turns writes into plant commands."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import numpy as np
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from simulator.engine import Simulation
from simulator.registers import DEFAULT_PROFILES, DeviceProfile, encode_bits, encode_registers
from streams.errors import BiogasError

_COIL_FIELDS = {"air_dosing_enable": 0, "flare_enable": 1, "feeding_enable": 2}
_BIT_FC = {1: "c", 2: "d", 5: "c", 15: "c"}


class SimulatorServerError(BiogasError):
    """The Modbus server could not start (address in use, bad host)."""


def _block(count: int, bits: bool) -> list[SimData]:
    if count <= 0:
        return [SimData(0, count=1, datatype=DataType.INVALID)]
    if bits:
        return [SimData(0, values=[False] * count, datatype=DataType.BITS)]
    return [SimData(0, count=count, values=0, datatype=DataType.REGISTERS)]


def _pack_bits(bits: list[bool]) -> list[int]:
    regs = []
    for i in range(0, len(bits), 16):
        regs.append(sum(1 << j for j, b in enumerate(bits[i: i + 16]) if b))
    return regs


class PlantModbusServer:
    """Serves ``sim``'s current values. Call :meth:`refresh` after advancing the simulation."""

    def __init__(self, sim: Simulation, *, host: str = "127.0.0.1", port: int = 5020,
                 profiles: Mapping[str, DeviceProfile] | None = None, seed: int = 0) -> None:
        self.sim = sim
        self.host = host
        self.port = port
        self.profiles = dict(profiles or DEFAULT_PROFILES)
        self._rng = np.random.Generator(np.random.PCG64(seed + 1))
        self.images: dict[str, list[int]] = {}
        self.bits: dict[str, dict[str, list[int]]] = {}
        self._server: ModbusTcpServer | None = None
        self.refresh()

    # ---- register images --------------------------------------------------------------------
    def refresh(self) -> None:
        values = dict(self.sim.values)
        cmd = self.sim.plant.cmd
        coil_values = {"air_dosing_enable": float(cmd.air_dosing_enable),
                       "flare_enable": float(cmd.flare_enable),
                       "feeding_enable": float(cmd.feeding_enable)}
        for name, prof in self.profiles.items():
            link = self.sim.link(name)
            if link.frozen and name in self.images:
                continue
            image = encode_registers(prof, values, word_swap=link.word_swap,
                                     byte_swap=link.byte_swap)
            if link.address_shift > 0:
                image = [0, *image[:-1]]
            elif link.address_shift < 0:
                image = [*image[1:], 0]
            self.images[name] = image
            self.bits[name] = {
                "d": _pack_bits(encode_bits(prof.discrete_inputs, values)),
                "c": _pack_bits(encode_bits(prof.coils, coil_values)),
            }

    def _device(self, prof: DeviceProfile) -> SimDevice:
        hr = prof.size if prof.table == "hr" else 0
        ir = prof.size if prof.table == "ir" else 0
        blocks = (_block(max(len(prof.coils), 1), True),
                  _block(max(len(prof.discrete_inputs), 1), True),
                  _block(hr, False), _block(ir, False))

        async def action(fc: int, _start: int, address: int, count: int, registers: list[int],
                         set_values: list[int] | list[bool] | None) -> ExcCodes | None:
            return self._on_request(prof, fc, address, registers, set_values)

        return SimDevice(prof.unit_id, simdata=blocks, action=action)

    def _on_request(self, prof: DeviceProfile, fc: int, address: int, registers: list[int],
                    set_values: list[int] | list[bool] | None) -> ExcCodes | None:
        link = self.sim.link(prof.name)
        if link.no_reply_share > 0.0 and self._rng.random() < link.no_reply_share:
            raise NoSuchIdException("simulated timeout")  # the server then sends nothing
        if link.exception_code:
            return ExcCodes(link.exception_code)
        if set_values is not None:
            return self._on_write(prof, fc, address, set_values)
        kind = _BIT_FC.get(fc)
        src = self.bits[prof.name][kind] if kind else self.images[prof.name]
        registers[: len(src)] = src
        return None

    def _on_write(self, prof: DeviceProfile, fc: int, address: int,
                  set_values: list[int] | list[bool]) -> ExcCodes | None:
        cmd = self.sim.plant.cmd
        if fc in (5, 15):
            for offset, value in enumerate(set_values):
                name = prof.coils[address + offset] if address + offset < len(prof.coils) else ""
                if name not in _COIL_FIELDS:
                    return ExcCodes.ILLEGAL_ADDRESS
                setattr(cmd, name, bool(value))
            return None
        if all(address + i in prof.writable for i in range(len(set_values))):
            if prof.name == "chp":
                cmd.chp_load_pct = float(min(max(int(set_values[0]), 0), 100))
            return None
        return ExcCodes.ILLEGAL_ADDRESS

    # ---- lifecycle --------------------------------------------------------------------------
    async def start(self) -> int:
        """Listen; returns the bound port (useful with ``port=0``)."""
        devices = [self._device(p) for p in self.profiles.values()]
        server = ModbusTcpServer(devices, address=(self.host, self.port),
                                 ignore_missing_devices=True)
        try:
            await server.serve_forever(background=True)
        except (OSError, RuntimeError) as exc:
            raise SimulatorServerError(
                f"cannot listen on {self.host}:{self.port} ({exc}); choose another --port"
            ) from None
        self._server = server
        transport: Any = server.transport
        sockets = getattr(transport, "sockets", None)
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]
            self._server = None
            await asyncio.sleep(0)
