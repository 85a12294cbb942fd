"""Binary snapshots of agent state: a JSON header followed by raw little-endian numpy arrays.

Layout: ``b"BGS1"``, a 4-byte big-endian header length, the orjson header
``{"meta": {...}, "arrays": [[name, dtype, shape], ...]}``, then each array's bytes in order.
No pickle: a snapshot read from the changelog can never execute code.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from agents.errors import StateError

MAGIC = b"BGS1"
_ALLOWED_DTYPES = {"<f8", "<i8", "<f4", "|b1"}


def pack(meta: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]) -> bytes:
    """One snapshot from JSON-able ``meta`` and named arrays."""
    specs = []
    blobs = []
    for name, arr in arrays.items():
        a = np.ascontiguousarray(arr)
        dtype = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
        a = a.astype(dtype, copy=False)
        if a.dtype.str not in _ALLOWED_DTYPES:
            raise StateError(f"array {name!r} has unsupported dtype {a.dtype.str}")
        specs.append([name, a.dtype.str, list(a.shape)])
        blobs.append(a.tobytes())
    header = orjson.dumps({"meta": meta, "arrays": specs},
                          option=orjson.OPT_SERIALIZE_NUMPY)
    return b"".join([MAGIC, struct.pack(">I", len(header)), header, *blobs])


def unpack(data: bytes) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """The ``meta`` and arrays of a snapshot; :class:`StateError` when it is not one."""
    if len(data) < 8 or data[:4] != MAGIC:
        raise StateError("not a state snapshot (bad magic)")
    (n,) = struct.unpack(">I", data[4:8])
    try:
        header = orjson.loads(data[8:8 + n])
        meta = header["meta"]
        specs = header["arrays"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise StateError(f"state snapshot header is unreadable: {exc}") from exc
    arrays: dict[str, npt.NDArray[Any]] = {}
    pos = 8 + n
    for name, dtype_str, shape in specs:
        if dtype_str not in _ALLOWED_DTYPES:
            raise StateError(f"state snapshot array {name!r} has dtype {dtype_str}")
        dtype = np.dtype(dtype_str)
        size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if pos + size > len(data):
            raise StateError(f"state snapshot is truncated at array {name!r}")
        arrays[name] = np.frombuffer(data, dtype=dtype, count=size // dtype.itemsize,
                                     offset=pos).reshape(shape).copy()
        pos += size
    if pos != len(data):
        raise StateError("state snapshot has trailing bytes")
    return meta, arrays
