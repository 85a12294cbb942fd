"""Registers to values and back, for every type in every byte/word order (by hand, with struct).

Registers are 16-bit unsigned ints as the Modbus PDU carries them (big-endian on the wire).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

from edge_producer.datatypes import STRUCT_FORMAT, ByteOrder, ValueType
from edge_producer.errors import DecodeError

Value = bool | int | float | str


def _swap16(word: int) -> int:
    return ((word & 0xFF) << 8) | (word >> 8)


def to_wire(words: Sequence[int], order: ByteOrder) -> bytes:
    """Registers as read -> the value's big-endian bytes (A B C D ...)."""
    regs = list(words)
    if order.word_swap:
        regs.reverse()
    if order.byte_swap:
        regs = [_swap16(w) for w in regs]
    return b"".join(w.to_bytes(2, "big") for w in regs)


def from_wire(data: bytes, order: ByteOrder) -> list[int]:
    """Big-endian bytes -> registers as a device with ``order`` would hold them."""
    regs = [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]
    if order.byte_swap:
        regs = [_swap16(w) for w in regs]
    if order.word_swap:
        regs.reverse()
    return regs


def decode_raw(words: Sequence[int], vtype: ValueType, order: ByteOrder) -> int | float | str:
    """The raw (unscaled) value of a numeric or string type."""
    if vtype is ValueType.STRING:
        data = b"".join(_swap16(w).to_bytes(2, "big") if order.byte_swap
                        else w.to_bytes(2, "big") for w in words)
        try:
            return data.rstrip(b"\x00 ").decode("ascii")
        except UnicodeDecodeError:
            raise DecodeError(f"string registers are not ASCII: {data!r}") from None
    if len(words) != vtype.words:
        raise DecodeError(f"{vtype} needs {vtype.words} registers, got {len(words)}")
    value: int | float = struct.unpack(STRUCT_FORMAT[vtype], to_wire(words, order))[0]
    return value


def encode_raw(value: int | float | str, vtype: ValueType, order: ByteOrder,
               length: int | None = None) -> list[int]:
    """Inverse of :func:`decode_raw` (for servers in tests, benchmarks and ``probe``)."""
    if vtype is ValueType.STRING:
        n = length or (len(str(value)) + 1) // 2
        data = str(value).encode("ascii").ljust(2 * n, b"\x00")[: 2 * n]
        regs = [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]
        return [_swap16(w) for w in regs] if order.byte_swap else regs
    return from_wire(struct.pack(STRUCT_FORMAT[vtype], value), order)


def engineering(raw: int | float, scale: float, offset: float) -> int | float:
    """``raw * scale + offset``; an integer stays an integer when nothing changes it.

    A decimal scale such as 0.1 divides by 10 instead, so 398 x 0.1 is 39.8, not
    39.800000000000004.
    """
    if scale == 1.0 and offset == 0.0:
        return raw
    divisor = 1.0 / scale
    if abs(scale) < 1.0 and abs(divisor - round(divisor)) < 1e-9:
        value = raw / round(divisor)
    else:
        value = raw * scale
    return value + offset if offset else value


def decode_value(words: Sequence[int], vtype: ValueType, order: ByteOrder, *,
                 bit: int | None = None, scale: float = 1.0, offset: float = 0.0) -> Value:
    """A register-table value in engineering units; raises :class:`DecodeError` for NaN/inf."""
    if vtype is ValueType.BOOL:
        if bit is None:
            raise DecodeError("a bool in a register needs a bit number")
        word = _swap16(words[0]) if order.byte_swap else words[0]
        return bool((word >> bit) & 1)
    raw = decode_raw(words, vtype, order)
    if isinstance(raw, str):
        return raw
    if isinstance(raw, float) and not math.isfinite(raw):
        raise DecodeError(f"{vtype} is {raw!r} (the device marks the value invalid)")
    if vtype is ValueType.F32:
        raw = float(f"{raw:.7g}")  # the digits a single-precision float carries
    value = engineering(raw, scale, offset)
    if isinstance(value, float) and not math.isfinite(value):
        raise DecodeError(f"scaled value is {value!r}")
    return value
