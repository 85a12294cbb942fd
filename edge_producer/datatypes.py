"""Modbus tables, value types and byte/word orders, with their register widths and limits."""

from __future__ import annotations

from enum import StrEnum

#: Protocol limits of one read request (Modbus application protocol 1.1b3).
MAX_READ_REGISTERS = 125
MAX_READ_BITS = 2000


class Table(StrEnum):
    """The four Modbus data tables."""

    HOLDING = "holding"
    INPUT = "input"
    COIL = "coil"
    DISCRETE = "discrete"

    @property
    def is_bits(self) -> bool:
        return self in (Table.COIL, Table.DISCRETE)

    @property
    def function_code(self) -> int:
        return {Table.COIL: 1, Table.DISCRETE: 2, Table.HOLDING: 3, Table.INPUT: 4}[self]


class ValueType(StrEnum):
    """How registers are read as a value."""

    BOOL = "bool"
    U16 = "u16"
    I16 = "i16"
    U32 = "u32"
    I32 = "i32"
    U64 = "u64"
    I64 = "i64"
    F32 = "f32"
    F64 = "f64"
    STRING = "string"

    @property
    def words(self) -> int:
        """Registers the type occupies (a string's length is configured per tag)."""
        return _WORDS[self]

    @property
    def is_float(self) -> bool:
        return self in (ValueType.F32, ValueType.F64)


_WORDS = {ValueType.BOOL: 1, ValueType.U16: 1, ValueType.I16: 1, ValueType.U32: 2,
          ValueType.I32: 2, ValueType.U64: 4, ValueType.I64: 4, ValueType.F32: 2,
          ValueType.F64: 4, ValueType.STRING: 0}

#: struct format (big-endian) of each numeric type.
STRUCT_FORMAT = {ValueType.U16: ">H", ValueType.I16: ">h", ValueType.U32: ">I",
                 ValueType.I32: ">i", ValueType.U64: ">Q", ValueType.I64: ">q",
                 ValueType.F32: ">f", ValueType.F64: ">d"}


class ByteOrder(StrEnum):
    """Byte and word order, named for a 32-bit value A B C D (A = most significant byte).

    Each name stands for the same rule at every width: ``BADC`` swaps the two bytes of every
    register, ``CDAB`` reverses the order of the registers, ``DCBA`` does both. For 64-bit
    values ``ABCDEFGH``, ``BADCFEHG``, ``GHEFCDAB`` and ``HGFEDCBA`` are accepted as aliases.
    """

    ABCD = "ABCD"
    BADC = "BADC"
    CDAB = "CDAB"
    DCBA = "DCBA"

    @property
    def byte_swap(self) -> bool:
        return self in (ByteOrder.BADC, ByteOrder.DCBA)

    @property
    def word_swap(self) -> bool:
        return self in (ByteOrder.CDAB, ByteOrder.DCBA)


#: Other spellings accepted in the config, mapped to the canonical name.
ORDER_ALIASES = {"ABCDEFGH": "ABCD", "BADCFEHG": "BADC", "GHEFCDAB": "CDAB",
                 "HGFEDCBA": "DCBA", "AB": "ABCD", "BA": "BADC"}
