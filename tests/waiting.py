"""Wait on conditions with deadlines; tests never sleep blindly."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class ConditionTimeoutError(AssertionError):
    """The condition did not hold before the deadline."""


def eventually(check: Callable[[], T | None], *, timeout: float = 30.0, interval: float = 0.05,
               what: str = "condition") -> T:
    """Call ``check`` until it returns a truthy value (returned) or raise after ``timeout`` s.

    ``check`` may also raise AssertionError while the condition does not hold yet; the last
    one is chained to the timeout error.
    """
    deadline = time.monotonic() + timeout
    last: AssertionError | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except AssertionError as exc:
            last = exc
        if time.monotonic() >= deadline:
            raise ConditionTimeoutError(f"{what} did not hold within {timeout:.1f} s") from last
        time.sleep(interval)


async def eventually_async(check: Callable[[], Awaitable[T | None]], *, timeout: float = 30.0,
                           interval: float = 0.05, what: str = "condition") -> T:
    """Async twin of :func:`eventually`: awaits ``check()`` until it is truthy."""
    deadline = time.monotonic() + timeout
    last: AssertionError | None = None
    while True:
        try:
            result = await check()
            if result:
                return result
        except AssertionError as exc:
            last = exc
        if time.monotonic() >= deadline:
            raise ConditionTimeoutError(f"{what} did not hold within {timeout:.1f} s") from last
        await asyncio.sleep(interval)
