"""What the worker does when one of its agents fails (a producer or state error the agent
cannot handle: the broker refused an output or a snapshot): say which agent, which messages
and why, print where every task waits, and exit at once with
:data:`agents.worker.stall_watch.EXIT_STALLED` (75, "restart me") for the supervisor.

Left to Faust, a failed agent is logged and the process stays up doing nothing, and a
graceful stop then waits for it. The exit is immediate (``os._exit``, like ``kill -9``):
the batch was not acknowledged, its state and offsets are on the log, so a restart repeats
it and loses nothing. A scan that fails deterministically never gets here: the detect
worker parks it on the dead-letter topic (:mod:`agents.detect_worker`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from agents.deadletter import Position
from agents.worker.stall_watch import EXIT_STALLED
from agents.worker.task_dump import dump_then_exit
from streams.logsetup import get_logger

log = get_logger("agents.failure")


def exit_on_failure(agent: str, positions: Sequence[Position], exc: BaseException,
                    dump: Callable[[], None], exit_now: Callable[[int], None] = os._exit
                    ) -> None:
    """Log the failure of ``agent`` on the messages at ``positions``, dump, and exit 75."""
    first = positions[0] if positions else None
    log.error("agents_agent_failed", agent=agent, error=repr(exc),
              error_type=type(exc).__name__, messages=len(positions),
              topic=first.topic if first else None,
              partition=first.partition if first else None,
              offset=first.offset if first else None, exit_code=EXIT_STALLED)
    dump_then_exit(dump, EXIT_STALLED, exit_now)
