"""Decoding registers by hand: golden values from DOMAIN.md 5.2, every type and order, bits,
scale/offset, invalid floats, and the probe's ranking of candidate decodings."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_producer.datatypes import ByteOrder, ValueType
from edge_producer.decoding import decode_raw, decode_value, encode_raw, engineering
from edge_producer.errors import DecodeError
from edge_producer.probing import candidates

GOLDEN_F32 = {
    (1.0, "ABCD"): [0x3F80, 0x0000], (1.0, "CDAB"): [0x0000, 0x3F80],
    (1.0, "BADC"): [0x803F, 0x0000], (1.0, "DCBA"): [0x0000, 0x803F],
    (123456.0, "ABCD"): [0x47F1, 0x2000], (123456.0, "CDAB"): [0x2000, 0x47F1],
    (123456.0, "BADC"): [0xF147, 0x0020], (123456.0, "DCBA"): [0x0020, 0xF147],
}


@pytest.mark.parametrize("key", list(GOLDEN_F32))
def test_float32_golden_values(key: tuple[float, str]) -> None:
    value, order = key
    regs = GOLDEN_F32[key]
    assert decode_value(regs, ValueType.F32, ByteOrder(order)) == value
    assert encode_raw(value, ValueType.F32, ByteOrder(order)) == regs


def test_64_bit_orders_move_whole_words_and_bytes() -> None:
    # 1.0 as a double is 3F F0 00 00 00 00 00 00
    assert encode_raw(1.0, ValueType.F64, ByteOrder.ABCD) == [0x3FF0, 0, 0, 0]
    assert encode_raw(1.0, ValueType.F64, ByteOrder.CDAB) == [0, 0, 0, 0x3FF0]
    assert encode_raw(1.0, ValueType.F64, ByteOrder.BADC) == [0xF03F, 0, 0, 0]
    assert encode_raw(1.0, ValueType.F64, ByteOrder.DCBA) == [0, 0, 0, 0xF03F]
    assert decode_raw([0x0001, 0x0002, 0x0003, 0x0004], ValueType.U64,
                      ByteOrder.CDAB) == 0x0004_0003_0002_0001


def test_integers_sign_and_width() -> None:
    assert decode_raw([0xFFFF], ValueType.I16, ByteOrder.ABCD) == -1
    assert decode_raw([0xFFFF], ValueType.U16, ByteOrder.ABCD) == 65535
    assert decode_raw([0x0001, 0xE240], ValueType.U32, ByteOrder.ABCD) == 123456
    assert decode_raw([0xE240, 0x0001], ValueType.U32, ByteOrder.CDAB) == 123456
    assert decode_raw([0xFFFE, 0x1DC0], ValueType.I32, ByteOrder.ABCD) == -123456
    assert decode_raw([0x3412], ValueType.U16, ByteOrder.BADC) == 0x1234
    with pytest.raises(DecodeError, match="needs 2 registers"):
        decode_raw([1], ValueType.U32, ByteOrder.ABCD)


@pytest.mark.parametrize("vtype", [t for t in ValueType if t not in (ValueType.BOOL,
                                                                      ValueType.STRING)])
@pytest.mark.parametrize("order", list(ByteOrder))
def test_round_trip_every_type_and_order(vtype: ValueType, order: ByteOrder) -> None:
    value = {"u": 40000, "i": -20000, "f": -2.5}[vtype.value[0]]
    regs = encode_raw(value, vtype, order)
    assert len(regs) == vtype.words
    assert decode_raw(regs, vtype, order) == value


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1), st.sampled_from(list(ByteOrder)))
def test_i64_round_trips(value: int, order: ByteOrder) -> None:
    assert decode_raw(encode_raw(value, ValueType.I64, order), ValueType.I64, order) == value


def test_strings() -> None:
    regs = encode_raw("CH4", ValueType.STRING, ByteOrder.ABCD, length=3)
    assert regs == [0x4348, 0x3400, 0x0000]
    assert decode_raw(regs, ValueType.STRING, ByteOrder.ABCD) == "CH4"
    assert decode_raw([0x4843, 0x0034], ValueType.STRING, ByteOrder.BADC) == "CH4"
    with pytest.raises(DecodeError, match="not ASCII"):
        decode_raw([0xFFFF], ValueType.STRING, ByteOrder.ABCD)


def test_bits_scale_offset_and_invalid_floats() -> None:
    assert decode_value([0b100], ValueType.BOOL, ByteOrder.ABCD, bit=2) is True
    assert decode_value([0b100], ValueType.BOOL, ByteOrder.ABCD, bit=1) is False
    assert decode_value([0x0400], ValueType.BOOL, ByteOrder.BADC, bit=2) is True
    assert decode_value([398], ValueType.I16, ByteOrder.ABCD, scale=0.1) == 39.8
    assert decode_value([(-385) & 0xFFFF], ValueType.I16, ByteOrder.ABCD, scale=0.1) == -38.5
    assert decode_value([745], ValueType.U16, ByteOrder.ABCD, scale=0.01) == 7.45
    assert decode_value([100], ValueType.U16, ByteOrder.ABCD, scale=2, offset=-5) == 195
    assert engineering(7, 1.0, 0.0) == 7 and type(engineering(7, 1.0, 0.0)) is int
    nan = list(struct.unpack(">HH", struct.pack(">f", math.nan)))
    with pytest.raises(DecodeError, match="invalid"):
        decode_value(nan, ValueType.F32, ByteOrder.ABCD)
    inf = encode_raw(math.inf, ValueType.F64, ByteOrder.ABCD)
    with pytest.raises(DecodeError):
        decode_value(inf, ValueType.F64, ByteOrder.ABCD)


def test_probe_ranks_the_right_order_first_for_a_word_swapped_float() -> None:
    regs = encode_raw(52.3, ValueType.F32, ByteOrder.CDAB)
    ranked = candidates(regs, (0.0, 100.0))
    best = ranked[0]
    assert (best.type, best.order, best.scale) == (ValueType.F32, ByteOrder.CDAB, 1.0)
    assert best.value == pytest.approx(52.3, rel=1e-6)
    assert best.in_range
    wrong = next(c for c in ranked if c.type is ValueType.F32 and c.order is ByteOrder.ABCD
                 and c.scale == 1.0)
    # read in the wrong order it is a tiny number at the edge of the range
    assert wrong.value < 1e-6 and wrong.score > 0.99
    assert ranked.index(wrong) > 0


def test_probe_finds_the_scale_of_an_int16_times_ten() -> None:
    ranked = candidates([385], (30.0, 45.0))
    assert (ranked[0].type, ranked[0].scale) == (ValueType.U16, 0.1)
    assert ranked[0].value == pytest.approx(38.5)


def test_probe_without_a_range_lists_everything_finite() -> None:
    ranked = candidates([0x3F80, 0x0000], None)
    assert all(c.in_range and math.isfinite(c.value) for c in ranked)
    assert ranked[0].type is ValueType.F32 and ranked[0].order is ByteOrder.ABCD
