"""Compiled kernels for the per-scan hot path: numba's ``njit`` with the settings every kernel
shares, typed so that a kernel keeps its Python signature for mypy.

* ``error_model="numpy"``: a division by zero gives inf/NaN as in numpy, never an exception;
* ``cache=True``: machine code is cached beside the module (``__pycache__``) after the first
  compilation, so a restarted worker does not compile again;
* ``nogil=True``: a kernel does not hold the GIL.

A kernel works on the same numpy arrays as the code around it (state snapshots are unchanged)
and computes the same IEEE operations in the same order as the vectorised numpy it replaced.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np

F = TypeVar("F", bound=Callable[..., Any])
#: how a kernel's array parameters are annotated (numba types them from the call)
Arr = np.ndarray


def kernel(fn: F) -> F:
    """Compile ``fn`` lazily (at its first call) with the shared settings."""
    return cast(F, numba.njit(cache=True, nogil=True, error_model="numpy")(fn))
