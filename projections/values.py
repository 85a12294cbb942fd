"""Values as the projection tables store them: reading values split by type, text PostgreSQL
can hold, stable series ids, and rollup partials with exact sums that merge in any grouping."""

from __future__ import annotations

import decimal
import functools
import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

#: Exact decimal arithmetic (only used to turn exact sums into numerics).
EXACT = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN,
                        traps=[decimal.Inexact, decimal.InvalidOperation])
#: Every finite double is an integer multiple of 2**-1074: sums are kept as such integers.
_FRACTION_BITS = 1074


@functools.lru_cache(maxsize=1 << 16)
def series_id(plant_id: str, tag: str) -> int:
    """The signed 64-bit id of a (plant, tag) series: a hash, so every rebuild assigns the
    same id whatever order the series first appear in."""
    digest = hashlib.blake2b(f"{plant_id}\x00{tag}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def clean_text(value: str) -> str:
    """PostgreSQL text and jsonb cannot hold NUL characters: each becomes U+FFFD."""
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def clean(value: Any) -> Any:
    """:func:`clean_text` applied to every string in a value, a tuple, a list or a dict."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, tuple | list):
        return type(value)(clean(v) for v in value)
    if isinstance(value, dict):
        return {clean(k): clean(v) for k, v in value.items()}
    return value


def split_value(value: float | int | bool | str | None) -> tuple[float | None, str | None]:
    """A reading value as (value, value_text): numbers in ``value``; strings in ``value_text``;
    a bool in both (1.0/0.0 and 'true'/'false') so its type survives; None in neither."""
    if value is None:
        return None, None
    if value is True:
        return 1.0, "true"
    if value is False:
        return 0.0, "false"
    if isinstance(value, str):
        return None, clean_text(value)
    return float(value), None


def exact_scaled(number: float) -> int:
    """``number`` exactly, as an integer count of 2**-1074."""
    numerator, denominator = number.as_integer_ratio()
    return numerator << (_FRACTION_BITS + 1 - denominator.bit_length())


def scaled_to_decimal(scaled: int) -> Decimal:
    """The exact decimal value of an integer count of 2**-1074."""
    if scaled == 0:
        return Decimal(0)
    k = _FRACTION_BITS
    shift = min((scaled & -scaled).bit_length() - 1, k)
    scaled >>= shift
    k -= shift
    return EXACT.scaleb(Decimal(scaled * 5**k), -k)  # scaled / 2**k == scaled * 5**k / 10**k


def json_of(value: Any) -> str:
    return orjson.dumps(clean(value)).decode()


@dataclass(slots=True)
class Rollup:
    """Partial aggregate of one (plant, tag, bucket): statistics over good numeric values;
    the sum is exact (an integer count of 2**-1074) so partials merge in any grouping."""

    sample_count: int = 0
    bad_count: int = 0
    value_count: int = 0
    value_min: float = 0.0
    value_max: float = 0.0
    value_sum: int = 0
    last_time: datetime | None = None
    value_last: float = 0.0

    def add(self, time: datetime, number: float | None, good: bool) -> None:
        self.sample_count += 1
        if not good:
            self.bad_count += 1
            return
        if number is None:
            return
        if self.value_count == 0:
            self.value_min = self.value_max = number
        elif number < self.value_min:
            self.value_min = number
        elif number > self.value_max:
            self.value_max = number
        self.value_count += 1
        numerator, denominator = number.as_integer_ratio()  # exact_scaled, inlined: hot path
        self.value_sum += numerator << (_FRACTION_BITS + 1 - denominator.bit_length())
        last = self.last_time
        if last is None or time > last or (time == last and number > self.value_last):
            self.last_time, self.value_last = time, number

    def merge(self, other: Rollup) -> None:
        self.sample_count += other.sample_count
        self.bad_count += other.bad_count
        if other.value_count:
            if self.value_count == 0:
                self.value_min, self.value_max = other.value_min, other.value_max
            else:
                self.value_min = min(self.value_min, other.value_min)
                self.value_max = max(self.value_max, other.value_max)
            self.value_count += other.value_count
            self.value_sum += other.value_sum
            assert other.last_time is not None
            last = self.last_time
            if last is None or (other.last_time, other.value_last) > (last, self.value_last):
                self.last_time, self.value_last = other.last_time, other.value_last

    def row(self) -> tuple[int, int, int, float | None, float | None, Decimal | None,
                           datetime | None, float | None]:
        """(sample_count, bad_count, value_count, min, max, sum, last_time, last)."""
        if self.value_count == 0:
            return (self.sample_count, self.bad_count, 0, None, None, None, None, None)
        return (self.sample_count, self.bad_count, self.value_count, self.value_min,
                self.value_max, scaled_to_decimal(self.value_sum), self.last_time,
                self.value_last)
