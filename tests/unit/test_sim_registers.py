"""Register encoding of the synthetic map (DOMAIN.md 5.2 golden values, 5.8 map)."""

from __future__ import annotations

import math

import pytest

from simulator.registers import (
    ANALYSER,
    CHP,
    PLC,
    WORD_ORDERS,
    WordOrder,
    decode_float32,
    decode_value,
    encode_float32,
    encode_registers,
    encode_uint32,
)

GOLDEN: dict[WordOrder, tuple[tuple[int, int], tuple[int, int]]] = {
    "ABCD": ((0x3F80, 0x0000), (0x47F1, 0x2000)),
    "CDAB": ((0x0000, 0x3F80), (0x2000, 0x47F1)),
    "BADC": ((0x803F, 0x0000), (0xF147, 0x0020)),
    "DCBA": ((0x0000, 0x803F), (0x0020, 0xF147)),
}


@pytest.mark.parametrize("order", WORD_ORDERS)
def test_golden_float_values(order: WordOrder) -> None:
    one, big = GOLDEN[order]
    assert encode_float32(1.0, order) == one
    assert encode_float32(123456.0, order) == big
    assert decode_float32(one, order) == 1.0
    assert decode_float32(big, order) == 123456.0


def test_wrong_order_gives_absurd_value() -> None:
    # 38.5 written CDAB and read ABCD -> a denormal (DOMAIN.md 4.2)
    regs = encode_float32(38.5, "CDAB")
    assert abs(decode_float32(regs, "ABCD")) < 1e-38


def test_uint32_high_word_first() -> None:
    assert encode_uint32(0x00012345, "ABCD") == (0x0001, 0x2345)
    assert encode_uint32(0x00012345, "CDAB") == (0x2345, 0x0001)


def test_plc_scaling_and_signed_values() -> None:
    image = encode_registers(PLC, {"dig1.temp_top": 38.46, "gas.pressure": -1.2,
                                   "dig1.ph": 7.35, "feed.solid_total": 123456.0})
    assert image[1] == 385
    assert image[5] == (-12) & 0xFFFF
    assert image[3] == 735
    assert decode_value(PLC, image, "gas.pressure") == pytest.approx(-1.2)
    assert decode_value(PLC, image, "feed.solid_total") == 123456.0


def test_invalid_sentinels_per_profile() -> None:
    nan = math.nan
    ana = encode_registers(ANALYSER, {"gas.ch4": nan})
    assert math.isnan(decode_value(ANALYSER, ana, "gas.ch4"))
    mru = encode_registers(ANALYSER.__class__(**{**ANALYSER.__dict__, "invalid": "-1e38"}),
                           {"gas.ch4": nan})
    assert decode_float32((mru[0], mru[1]), "CDAB") == pytest.approx(-1e38, rel=1e-6)
    plc = encode_registers(PLC, {"dig1.ph": nan})
    assert plc[3] == 0xFFFF


def test_link_fault_word_and_byte_swap() -> None:
    normal = encode_registers(CHP, {"chp.hours": 70000.0})
    swapped = encode_registers(CHP, {"chp.hours": 70000.0}, word_swap=True)
    assert normal[2:4] == [swapped[3], swapped[2]]
    bs = encode_registers(ANALYSER, {"gas.ch4": 1.0}, byte_swap=True)
    assert bs[0:2] == [0x0000, 0x803F]  # CDAB byte-swapped = DCBA
