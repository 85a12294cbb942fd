"""Run the product's services as child processes for the demo, and stop them all on exit."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
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
