"""A stop signal arms a deadline once; past it the process ends with its own exit code."""

from __future__ import annotations

import threading

from agents.worker.stop_deadline import EXIT_STOP_FORCED, StopDeadline
from tests.waiting import eventually


def test_the_first_signal_arms_the_deadline_and_its_expiry_dumps_then_exits() -> None:
    dumped: list[bool] = []
    exits: list[int] = []
    done = threading.Event()

    def exit_now(code: int) -> None:
        exits.append(code)
        done.set()

    deadline = StopDeadline(0.2, lambda: dumped.append(True), exit_now)
    assert not deadline.armed
    deadline.arm("SIGTERM")
    first = deadline._timer
    deadline.arm("SIGINT")  # a second signal does not start the wait again
    assert deadline.armed and deadline._timer is first
    eventually(done.is_set, timeout=10, what="the deadline's exit")
    assert exits == [EXIT_STOP_FORCED] and dumped == [True]


def test_a_dump_that_fails_still_exits() -> None:
    exits: list[int] = []

    def broken() -> None:
        raise OSError("stderr closed")

    deadline = StopDeadline(0.05, broken, exits.append)
    deadline.arm("SIGTERM")
    assert deadline._timer is not None
    deadline._timer.join(10)
    assert exits == [EXIT_STOP_FORCED]
