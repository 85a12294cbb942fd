"""Run the product's services as child processes for the demo, and stop them all on exit."""

from __future__ import annotations

import os
import subprocess
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


class Supervisor:
    """Starts services with the stack's environment, each logging to its own file."""

    def __init__(self, log_dir: Path, env: Mapping[str, str]) -> None:
        self._log_dir = log_dir
        self._env = dict(env)
        self.running: list[Running] = []

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

    def restart_or_report(self, restarts: dict[str, int], max_restarts: int,
                          say: Callable[[str], None]) -> bool:
        """Start again each exited service whose exit code asks for it (at most
        ``max_restarts`` times per service, counted in ``restarts``); returns True when a
        service ended for good (its exit is reported through ``say``)."""
        ended = False
        for running, code in self.exited():
            name = running.service.name
            if code in running.service.restart_on and restarts.get(name, 0) < max_restarts:
                restarts[name] = restarts.get(name, 0) + 1
                again = self.restart(running)
                say(f"  {name} exited with code {code} and asked for a restart "
                    f"({restarts[name]} of {max_restarts}): pid {again.proc.pid}; see "
                    f"{running.log_file}")
                continue
            say(f"error: {name} exited with code {code}; see {running.log_file}")
            ended = True
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
