"""The pymodbus boundary: one connection to a device (TCP) or to a serial bus (RTU), and reads
that return registers or raise the edge producer's own errors.

pymodbus's automatic reconnect is switched off: the poller's circuit breaker decides when to
try again, so nothing runs in the background after :meth:`ModbusLink.close`.
"""

from __future__ import annotations

import asyncio
import socket

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.framer import FramerType

from edge_producer.config import DeviceConfig
from edge_producer.datatypes import Table
from edge_producer.errors import (
    DeviceExceptionError,
    DeviceTimeoutError,
    DeviceUnreachableError,
    ModbusError,
)

#: Names of the exception codes seen in practice (Modbus application protocol 1.1b3, 7).
EXCEPTION_NAMES = {1: "illegal function", 2: "illegal data address", 3: "illegal data value",
                   4: "server device failure", 5: "acknowledge", 6: "server device busy",
                   8: "memory parity error", 10: "gateway path unavailable",
                   11: "gateway target device failed to respond"}


class ModbusLink:
    """A client for one device (TCP) or one serial bus (RTU, shared by its devices)."""

    def __init__(self, device: DeviceConfig) -> None:
        self._device = device
        self._client: AsyncModbusTcpClient | AsyncModbusSerialClient | None = None
        self._lock = asyncio.Lock()

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    def _new_client(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        d = self._device
        if d.protocol == "tcp":
            return AsyncModbusTcpClient(str(d.host), port=d.port, timeout=d.timeout_s,
                                        retries=d.retries, reconnect_delay=0)
        return AsyncModbusSerialClient(str(d.serial_port), framer=FramerType.RTU,
                                       baudrate=d.baudrate, bytesize=d.bytesize,
                                       parity=d.parity, stopbits=d.stopbits,
                                       timeout=d.timeout_s, retries=d.retries,
                                       reconnect_delay=0)

    async def _connected_client(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        if self._client is not None and self._client.connected:
            return self._client
        self.close()
        client = self._new_client()
        try:
            ok = await client.connect()
        except (ModbusException, OSError) as exc:
            client.close()
            raise DeviceUnreachableError(f"{self._device.endpoint}: {exc}") from None
        if not ok:
            client.close()
            raise DeviceUnreachableError(f"{self._device.endpoint}: connection failed")
        self._client = client
        if self._device.protocol == "tcp":
            sock = client.ctx.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return client

    async def read(self, table: Table, start: int, count: int, unit_id: int) -> list[int]:
        """Registers (or bits as 0/1) ``start .. start+count-1`` of ``table``.

        Raises :class:`DeviceUnreachableError`, :class:`DeviceTimeoutError` or
        :class:`DeviceExceptionError` (with the exception code).
        """
        async with self._lock:
            client = await self._connected_client()
            try:
                if table is Table.HOLDING:
                    rr = await client.read_holding_registers(start, count=count, device_id=unit_id)
                elif table is Table.INPUT:
                    rr = await client.read_input_registers(start, count=count, device_id=unit_id)
                elif table is Table.COIL:
                    rr = await client.read_coils(start, count=count, device_id=unit_id)
                else:
                    rr = await client.read_discrete_inputs(start, count=count, device_id=unit_id)
            except ModbusIOException as exc:
                self.close()  # a late answer must not be taken for the next request's
                raise DeviceTimeoutError(f"{self._device.endpoint} unit {unit_id}: no answer "
                                         f"within {self._device.timeout_s} s ({exc})") from None
            except ConnectionException as exc:
                self.close()
                raise DeviceUnreachableError(f"{self._device.endpoint}: {exc}") from None
            except ModbusException as exc:
                self.close()
                raise ModbusError(f"{self._device.endpoint}: {exc}") from None
        if rr.isError():
            code = int(rr.exception_code)
            name = EXCEPTION_NAMES.get(code, "unknown exception")
            raise DeviceExceptionError(code, f"{self._device.endpoint} unit {unit_id}: "
                                             f"exception {code:02d} ({name})")
        if table.is_bits:
            bits = list(rr.bits)[:count]
            if len(bits) < count:
                raise ModbusError(f"asked for {count} bits, got {len(bits)}")
            return [int(b) for b in bits]
        regs = list(rr.registers)
        if len(regs) != count:
            raise ModbusError(f"asked for {count} registers, got {len(regs)}")
        return regs

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
