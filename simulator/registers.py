"""The synthetic register map of DOMAIN.md 5.8 and its encoding: engineering values -> 16-bit
registers per device profile (word order, scale, invalid sentinel). 32-bit orders are built by
hand with ``struct`` so they do not depend on the Modbus library's conventions."""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

WordOrder = Literal["ABCD", "CDAB", "BADC", "DCBA"]
DType = Literal["uint16", "int16", "float32", "uint32"]
Invalid = Literal["nan", "-1e38", "0xffff"]
WORD_ORDERS: tuple[WordOrder, ...] = ("ABCD", "CDAB", "BADC", "DCBA")
_WORD_SWAP: dict[WordOrder, WordOrder] = {"ABCD": "CDAB", "CDAB": "ABCD", "BADC": "DCBA",
                                          "DCBA": "BADC"}
_BYTE_SWAP: dict[WordOrder, WordOrder] = {"ABCD": "BADC", "BADC": "ABCD", "CDAB": "DCBA",
                                          "DCBA": "CDAB"}


def _order(raw: bytes, order: WordOrder) -> tuple[int, int]:
    a, b, c, d = raw
    if order == "ABCD":
        return (a << 8) | b, (c << 8) | d
    if order == "CDAB":
        return (c << 8) | d, (a << 8) | b
    if order == "BADC":
        return (b << 8) | a, (d << 8) | c
    return (d << 8) | c, (b << 8) | a


def _unorder(regs: tuple[int, int], order: WordOrder) -> bytes:
    r0, r1 = regs
    h0, l0, h1, l1 = r0 >> 8, r0 & 0xFF, r1 >> 8, r1 & 0xFF
    if order == "ABCD":
        return bytes((h0, l0, h1, l1))
    if order == "CDAB":
        return bytes((h1, l1, h0, l0))
    if order == "BADC":
        return bytes((l0, h0, l1, h1))
    return bytes((l1, h1, l0, h0))


def encode_float32(value: float, order: WordOrder) -> tuple[int, int]:
    """IEEE-754 single in two registers, e.g. 1.0 ABCD -> (0x3F80, 0x0000)."""
    return _order(struct.pack(">f", value), order)


def decode_float32(regs: tuple[int, int], order: WordOrder) -> float:
    return float(struct.unpack(">f", _unorder(regs, order))[0])


def encode_uint32(value: int, order: WordOrder) -> tuple[int, int]:
    return _order(struct.pack(">I", value & 0xFFFFFFFF), order)


def decode_uint32(regs: tuple[int, int], order: WordOrder) -> int:
    return int(struct.unpack(">I", _unorder(regs, order))[0])


@dataclass(frozen=True)
class RegSpec:
    """One value in a register table."""

    tag: str
    address: int
    dtype: DType
    scale: float = 1.0

    @property
    def width(self) -> int:
        return 2 if self.dtype in ("float32", "uint32") else 1


@dataclass(frozen=True)
class DeviceProfile:
    """One Modbus unit: id, data table, word order, invalid sentinel and its map."""

    name: str
    unit_id: int
    table: Literal["hr", "ir"]
    word_order: WordOrder
    invalid: Invalid
    registers: tuple[RegSpec, ...]
    discrete_inputs: tuple[str, ...] = ()
    coils: tuple[str, ...] = ()
    writable: tuple[int, ...] = ()  # register addresses a client may write

    @property
    def size(self) -> int:
        return max(r.address + r.width for r in self.registers)

    def with_order(self, order: WordOrder) -> DeviceProfile:
        return replace(self, word_order=order)

    def spec(self, tag: str) -> RegSpec:
        for r in self.registers:
            if r.tag == tag:
                return r
        raise KeyError(tag)


PLC = DeviceProfile(
    name="plc", unit_id=1, table="hr", word_order="ABCD", invalid="0xffff",
    registers=(
        RegSpec("plc.heartbeat", 0, "uint16"), RegSpec("dig1.temp_top", 1, "int16", 10),
        RegSpec("dig1.temp_bottom", 2, "int16", 10), RegSpec("dig1.ph", 3, "uint16", 100),
        RegSpec("dig1.level", 4, "uint16", 100), RegSpec("gas.pressure", 5, "int16", 10),
        RegSpec("gas.holder_fill", 6, "uint16", 10), RegSpec("agit1.current", 7, "uint16", 10),
        RegSpec("agit1.speed", 8, "uint16"), RegSpec("pump.feed.current", 9, "uint16", 10),
        RegSpec("gas.flow_chp", 10, "float32"), RegSpec("gas.flow_flare", 12, "float32"),
        RegSpec("feed.solid_today", 14, "float32"), RegSpec("feed.solid_total", 16, "uint32"),
        RegSpec("heat.supply_temp", 18, "int16", 10), RegSpec("heat.return_temp", 19, "int16", 10),
        RegSpec("air.dosing_flow", 20, "float32"), RegSpec("plc.alarm_word", 22, "uint16"),
    ),
    discrete_inputs=("agit1.run", "pump.feed.run", "flare.on", "chp.run", "gas.blower_run",
                     "air.dosing_on", "gas.overpressure_valve", "safety.gas_alarm"),
    coils=("air_dosing_enable", "flare_enable", "feeding_enable"),
)

ANALYSER = DeviceProfile(
    name="analyser", unit_id=2, table="ir", word_order="CDAB", invalid="nan",
    registers=(
        RegSpec("gas.ch4", 0, "float32"), RegSpec("gas.co2", 2, "float32"),
        RegSpec("gas.o2", 4, "float32"), RegSpec("gas.h2s", 6, "float32"),
        RegSpec("gas.h2", 8, "float32"), RegSpec("ana.status", 10, "uint16"),
        RegSpec("ana.sample_point", 11, "uint16"),
    ),
)

CHP = DeviceProfile(
    name="chp", unit_id=3, table="hr", word_order="ABCD", invalid="0xffff",
    registers=(
        RegSpec("chp.p_el", 0, "uint16"), RegSpec("chp.p_th", 1, "uint16"),
        RegSpec("chp.hours", 2, "uint32"), RegSpec("chp.energy_el", 4, "uint32"),
        RegSpec("chp.gas_flow", 6, "uint16", 10), RegSpec("chp.state", 7, "uint16"),
        RegSpec("chp.fault_code", 8, "uint16"), RegSpec("chp.load_setpoint", 9, "uint16"),
        RegSpec("chp.exhaust_temp", 10, "int16"), RegSpec("chp.coolant_temp", 11, "int16", 10),
    ),
    writable=(9,),
)

DEFAULT_PROFILES: dict[str, DeviceProfile] = {p.name: p for p in (PLC, ANALYSER, CHP)}


def _int_reg(value: float, spec: RegSpec, invalid: Invalid) -> int:
    if math.isnan(value):
        return 0xFFFF if invalid == "0xffff" else 0
    raw = round(value * spec.scale)
    if spec.dtype == "int16":
        return max(min(raw, 32767), -32768) & 0xFFFF
    return max(min(raw, 0xFFFF), 0)


def encode_registers(profile: DeviceProfile, values: Mapping[str, float], *,
                     word_swap: bool = False, byte_swap: bool = False) -> list[int]:
    """The register image of ``profile`` for ``values`` (missing tags read as invalid).
    ``word_swap``/``byte_swap`` inject a wrong 32-bit order (link faults)."""
    order = profile.word_order
    if word_swap:
        order = _WORD_SWAP[order]
    if byte_swap:
        order = _BYTE_SWAP[order]
    image = [0] * profile.size
    for spec in profile.registers:
        v = values.get(spec.tag, math.nan)
        if spec.dtype == "float32":
            if math.isnan(v):
                v = -1e38 if profile.invalid == "-1e38" else math.nan
            image[spec.address: spec.address + 2] = encode_float32(v, order)
        elif spec.dtype == "uint32":
            n = 0xFFFFFFFF if math.isnan(v) else int(max(v * spec.scale, 0.0))
            image[spec.address: spec.address + 2] = encode_uint32(n, order)
        else:
            image[spec.address] = _int_reg(v, spec, profile.invalid)
    return image


def decode_value(profile: DeviceProfile, image: list[int], tag: str) -> float:
    """Inverse of :func:`encode_registers` for one tag (for clients and tests)."""
    spec = profile.spec(tag)
    a = spec.address
    if spec.dtype == "float32":
        return decode_float32((image[a], image[a + 1]), profile.word_order)
    if spec.dtype == "uint32":
        return float(decode_uint32((image[a], image[a + 1]), profile.word_order))
    raw = image[a]
    if spec.dtype == "int16" and raw >= 0x8000:
        raw -= 0x10000
    return raw / spec.scale


def encode_bits(names: tuple[str, ...], values: Mapping[str, float]) -> list[bool]:
    return [values.get(n, 0.0) > 0.5 for n in names]
