"""Run the product's services as child processes for the demo, and stop them all on exit."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from stack.processes import ProcessRef


@dataclass(frozen=True)
class Service:
    """One long-running command of the product, e.g. ``biogas api``."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    #: exit codes by which the service asks to be started again (e.g. the agents worker's 75
    #: when an input stalled)
    restart_on: frozenset[int] = frozenset()


@dataclass
class Running:
    service: Service
    proc: subprocess.Popen[bytes]
    ref: ProcessRef
    log_file: Path
    log: IO[bytes]
    started: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Backoff:
    """When a service that asked for a restart starts again: after ``first_s``, doubling
    with each restart in a row up to ``max_s``, without a cap on their number (a stalled
    worker must not leave the plant unmonitored for good). A run that lasted
    ``healthy_after_s`` starts the count afresh."""

    first_s: float = 1.0
    max_s: float = 60.0
    healthy_after_s: float = 600.0

    def delay(self, in_a_row: int) -> float:
        return float(min(self.max_s, self.first_s * 2.0 ** max(in_a_row - 1, 0)))


@dataclass
class _Pending:
    running: Running
    due: float


class Supervisor:
    """Starts services with the stack's environment, each logging to its own file."""

    def __init__(self, log_dir: Path, env: Mapping[str, str]) -> None:
        self._log_dir = log_dir
        self._env = dict(env)
        self.running: list[Running] = []
        #: restarts in a row per service, and the restarts waiting for their time
        self.restarts: dict[str, int] = {}
        self._pending: dict[str, _Pending] = {}

    def start(self, service: Service) -> Running:
        self._log_dir.mkdir(parents=True, exist_ok=True)
        log_file = self._log_dir / f"{service.name}.log"
        log = log_file.open("ab")
        env = {**os.environ, **self._env, **service.env}
        proc = subprocess.Popen(list(service.argv), env=env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        running = Running(service, proc, ProcessRef.of(proc.pid), log_file, log)
        self.running.append(running)
        return running

    def restart(self, running: Running) -> Running:
        """Start an exited service again (its log continues in the same file)."""
        self.running.remove(running)
        running.log.close()
        return self.start(running.service)

    def restart_or_report(self, say: Callable[[str], None], backoff: Backoff = Backoff(),
                          now: float | None = None) -> bool:
        """Start again, after its backoff, each exited service whose exit code asks for it;
        returns True when a service ended for good (its exit is reported through ``say``)."""
        now = time.monotonic() if now is None else now
        ended = False
        for running, code in self.exited():
            name = running.service.name
            if name in self._pending:
                continue
            if code not in running.service.restart_on:
                say(f"error: {name} exited with code {code}; see {running.log_file}")
                ended = True
                continue
            if now - running.started >= backoff.healthy_after_s:
                self.restarts[name] = 0
            self.restarts[name] = in_a_row = self.restarts.get(name, 0) + 1
            wait = backoff.delay(in_a_row)
            self._pending[name] = _Pending(running, now + wait)
            say(f"  {name} exited with code {code} and asked for a restart ({in_a_row} in a "
                f"row): starting it again in {wait:g} s; see {running.log_file}")
        for name, pending in list(self._pending.items()):
            if now >= pending.due:
                del self._pending[name]
                again = self.restart(pending.running)
                say(f"  {name} started again: pid {again.proc.pid}")
        return ended

    def exited(self) -> list[tuple[Running, int]]:
        """Services that have stopped on their own, with their exit codes."""
        return [(r, code) for r in self.running if (code := r.proc.poll()) is not None]

    def stop_all(self, timeout_s: float = 20) -> list[str]:
        """Stop every service (newest first); returns the names of any that would not stop."""
        stubborn: list[str] = []
        for running in reversed(self.running):
            if running.proc.poll() is None and not running.ref.terminate(timeout_s):
                stubborn.append(running.service.name)
            running.proc.poll()
            running.log.close()
        self.running.clear()
        return stubborn
