"""Commissioning aid: decode a tag's registers in every byte/word order, type of the same
width and scale candidate, and rank the results against the tag's expected range."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from edge_producer.datatypes import ByteOrder, ValueType
from edge_producer.decoding import decode_raw
from edge_producer.errors import DecodeError

SCALES: tuple[float, ...] = (1.0, 0.1, 0.01, 0.001, 10.0, 100.0)
_BY_WIDTH = {1: (ValueType.U16, ValueType.I16),
             2: (ValueType.F32, ValueType.U32, ValueType.I32),
             4: (ValueType.F64, ValueType.U64, ValueType.I64)}


@dataclass(frozen=True)
class Candidate:
    """One way of reading the registers and how well it fits the expected range."""

    type: ValueType
    order: ByteOrder
    scale: float
    value: float
    in_range: bool
    score: float  # 0 = at the middle of the range, 1 = at its edge; lower is better


def candidates(words: Sequence[int], expected: tuple[float, float] | None, *,
               current: tuple[ValueType, ByteOrder] | None = None) -> list[Candidate]:
    """Every finite interpretation of ``words`` (1, 2 or 4 registers; from 2 registers the
    16-bit readings of the first one are included), best first."""
    found: list[Candidate] = []
    widths = [w for w in (4, 2, 1) if w <= len(words)]
    for width in widths:
        for vtype in _BY_WIDTH[width]:
            orders = list(ByteOrder) if width > 1 else [ByteOrder.ABCD, ByteOrder.BADC]
            for order in orders:
                try:
                    raw = decode_raw(words[:width], vtype, order)
                except DecodeError:
                    continue
                if isinstance(raw, str) or not math.isfinite(raw):
                    continue
                for scale in SCALES:
                    found.append(_candidate(vtype, order, scale, raw * scale, expected))
    preferred = current or (ValueType.F32, ByteOrder.ABCD)

    def rank(c: Candidate) -> tuple[bool, float, bool, bool]:
        return (not c.in_range, round(c.score, 6), c.scale != 1.0,
                (c.type, c.order) != preferred)

    return sorted(found, key=rank)


def _candidate(vtype: ValueType, order: ByteOrder, scale: float, value: float,
               expected: tuple[float, float] | None) -> Candidate:
    if expected is None:
        return Candidate(vtype, order, scale, value, True, 0.0)
    lo, hi = expected
    mid, half = (lo + hi) / 2, max((hi - lo) / 2, 1e-12)
    score = abs(value - mid) / half
    return Candidate(vtype, order, scale, value, lo <= value <= hi, score)
