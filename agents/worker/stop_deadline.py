"""A stop that cannot hang: once SIGTERM or SIGINT asked the worker to stop, a timer thread
ends the process if the graceful stop has not within ``seconds``.

A graceful Faust stop waits for every agent to finish its current event and for its streams
to drain (``wait_empty``): an agent stuck on something that never answers (a producer
refused, a model store that hangs) held a stopping worker for minutes. State and offsets are
on the log, so the hard exit (``os._exit``, like ``kill -9``) loses nothing; before it the
worker logs ``agents_stop_forced`` and prints where every task and stream waits (the SIGUSR1
dump), and it exits with :data:`EXIT_STOP_FORCED`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from agents.worker.task_dump import dump_then_exit
from streams.logsetup import get_logger

#: the exit code of a stop that had to be forced
EXIT_STOP_FORCED = 70  # EX_SOFTWARE
log = get_logger("agents.stop")


class StopDeadline:
    """Armed once by the first stop signal; later signals change nothing."""

    def __init__(self, seconds: float, dump: Callable[[], None],
                 exit_now: Callable[[int], None] = os._exit) -> None:
        self.seconds, self._dump, self._exit = seconds, dump, exit_now
        self._timer: threading.Timer | None = None

    @property
    def armed(self) -> bool:
        return self._timer is not None

    def arm(self, signal_name: str) -> None:
        if self._timer is not None:
            return
        self._timer = threading.Timer(self.seconds, self._expire, args=(signal_name,))
        self._timer.daemon = True
        self._timer.start()

    def _expire(self, signal_name: str) -> None:
        log.error("agents_stop_forced", signal=signal_name, after_s=self.seconds,
                  exit_code=EXIT_STOP_FORCED)
        dump_then_exit(self._dump, EXIT_STOP_FORCED, self._exit)
