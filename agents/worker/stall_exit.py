"""What the worker does when :class:`agents.worker.stall_watch.StallWatch` finds a stalled input:
say which partitions and where they stand, print where every task and stream waits (the same
dump as SIGUSR1), and exit at once with :data:`agents.worker.stall_watch.EXIT_STALLED`.

The exit is immediate (``os._exit``), like ``kill -9``: a graceful stop would wait for the very
stream that no longer moves, and state and offsets are on the log, so nothing is lost.
"""

from __future__ import annotations

from typing import Any

from agents.worker import task_dump
from agents.worker.stall_watch import EXIT_STALLED, Stall
from streams.logsetup import get_logger

log = get_logger("agents.stall")


def exit_for_restart(app: Any, stalls: list[Stall]) -> None:
    """Log the stalls, dump the worker's state to stderr and exit with code 75."""
    for stall in stalls:
        log.error("agents_input_stalled", partition=str(stall.partition),
                  committed=stall.offsets.committed, end=stall.offsets.end,
                  behind=stall.offsets.behind, still_for_s=round(stall.still_for_s, 1),
                  exit_code=EXIT_STALLED)
    task_dump.dump_then_exit(lambda: task_dump.dump_worker(app), EXIT_STALLED)
