"""Snapshots of any size as changelog records of bounded size.

A stream's snapshot grows with its tags (about 5 KB a tag): past the broker's 1 MB record
limit one wide scan would stop the worker. A snapshot larger than :data:`CHUNK_BYTES` is
written as parts under keys of their own (``<key>\\x1f<generation>.<i>``) and, last, a
*manifest* under the snapshot's key: ``b"BGSC"``, then generation, part count, total length
and CRC-32 (big-endian). The parts of a new generation are written before its manifest and
the previous generation's parts are removed (tombstones) only after it, all in the same
changelog partition, so a crash at any point leaves a manifest whose parts are all there.
A snapshot of at most :data:`CHUNK_BYTES` is written whole under its key, as before.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

from agents.errors import StateError

CHUNK_BYTES = 240 * 1024
MAGIC = b"BGSC"
_MANIFEST = struct.Struct(">IIQI")  # generation, parts, total length, CRC-32
SEPARATOR = "\x1f"


def part_key(key: str, generation: int, i: int) -> str:
    return f"{key}{SEPARATOR}{generation}.{i}"


def is_part(key: str) -> bool:
    return SEPARATOR in key


def manifest_of(value: bytes | None) -> tuple[int, int] | None:
    """(generation, parts) when ``value`` is a manifest, else None."""
    if value is None or len(value) != len(MAGIC) + _MANIFEST.size or not value.startswith(MAGIC):
        return None
    generation, parts, _, _ = _MANIFEST.unpack(value[len(MAGIC):])
    return generation, parts


def split(key: str, data: bytes, generation: int) -> tuple[list[tuple[str, bytes]], bytes]:
    """The parts (key, bytes) of ``data`` and the manifest to write after them."""
    parts = [(part_key(key, generation, i), data[at:at + CHUNK_BYTES])
             for i, at in enumerate(range(0, len(data), CHUNK_BYTES))]
    manifest = MAGIC + _MANIFEST.pack(generation, len(parts), len(data), zlib.crc32(data))
    return parts, manifest


def join(key: str, manifest: bytes, get: Callable[[str], bytes | None]) -> bytes:
    """The snapshot a manifest describes, from its parts; :class:`StateError` when a part is
    missing or the whole does not match its length and checksum."""
    generation, parts, total, crc = _MANIFEST.unpack(manifest[len(MAGIC):])
    chunks = []
    for i in range(parts):
        chunk = get(part_key(key, generation, i))
        if chunk is None:
            raise StateError(f"snapshot {key!r}: part {i + 1} of {parts} (generation "
                             f"{generation}) is missing")
        chunks.append(chunk)
    data = b"".join(chunks)
    if len(data) != total or zlib.crc32(data) != crc:
        raise StateError(f"snapshot {key!r}: its {parts} parts do not add up to the "
                         f"{total} bytes the manifest names")
    return data
