"""A circuit breaker with exponential backoff and full jitter, for devices and the broker."""

from __future__ import annotations

import random
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Opens after ``threshold`` consecutive failures; while open, :meth:`allow` says no until
    the backoff has passed, then lets one attempt through (half-open). Each failure while open
    or half-open doubles the backoff up to ``max_s``; a success closes it and resets it.

    The clock is injected (``time.monotonic`` or the event loop's ``time``).
    """

    def __init__(self, clock: Callable[[], float], *, threshold: int = 1, base_s: float = 0.5,
                 max_s: float = 30.0, rng: random.Random | None = None) -> None:
        self._clock = clock
        self._threshold = threshold
        self._base_s = base_s
        self._max_s = max_s
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._failures = 0
        self._opens = 0
        self._retry_at = 0.0
        self.state = BreakerState.CLOSED

    @property
    def retry_at(self) -> float:
        """Clock time when an open breaker lets the next attempt through."""
        return self._retry_at

    def allow(self) -> bool:
        if self.state is BreakerState.CLOSED:
            return True
        if self._clock() >= self._retry_at:
            self.state = BreakerState.HALF_OPEN
            return True
        return False

    def success(self) -> None:
        self._failures = 0
        self._opens = 0
        self.state = BreakerState.CLOSED

    def failure(self) -> None:
        self._failures += 1
        if self.state is BreakerState.CLOSED and self._failures < self._threshold:
            return
        ceiling = min(self._max_s, self._base_s * (2 ** min(self._opens, 30)))
        # "Equal jitter": at least half the backoff, so a dead device is not hammered.
        delay = ceiling / 2 + self._rng.uniform(0, ceiling / 2)
        self._opens += 1
        self._retry_at = self._clock() + delay
        self.state = BreakerState.OPEN
