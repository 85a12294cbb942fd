"""Turn the answer to one read request into readings with quality codes."""

from __future__ import annotations

from collections.abc import Sequence

from edge_producer.config import DeviceConfig, TagConfig
from edge_producer.decoding import decode_value
from edge_producer.errors import DecodeError
from edge_producer.planning import ReadRequest
from streams.events import Quality, Reading


def tag_reading(tag: TagConfig, words: Sequence[int], device: DeviceConfig) -> Reading:
    """One tag's reading from its own registers (or its one bit)."""
    if tag.table.is_bits:
        return Reading(tag=tag.name, value=bool(words[0]), quality=Quality.GOOD)
    try:
        value = decode_value(words, tag.type, tag.order_on(device), bit=tag.bit,
                             scale=tag.scale, offset=tag.offset)
    except DecodeError:
        return Reading(tag=tag.name, value=None, quality=Quality.DECODE_ERROR)
    quality = Quality.GOOD
    if isinstance(value, int | float) and not isinstance(value, bool) and (
            (tag.min is not None and value < tag.min)
            or (tag.max is not None and value > tag.max)):
        quality = Quality.OUT_OF_RANGE
    return Reading(tag=tag.name, value=value, quality=quality)


def request_readings(request: ReadRequest, words: Sequence[int],
                     device: DeviceConfig) -> list[Reading]:
    """Readings of every tag a successful read served."""
    out = []
    for tag in request.tags:
        offset = tag.address - request.start
        out.append(tag_reading(tag, words[offset:offset + tag.words], device))
    return out


def failed_readings(request: ReadRequest, quality: Quality) -> list[Reading]:
    """Readings without a value for every tag of a read that failed."""
    return [Reading(tag=tag.name, value=None, quality=quality) for tag in request.tags]
