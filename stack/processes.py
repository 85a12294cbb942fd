"""Track the server processes the stack started, so ``down`` stops exactly those.

A process is identified by its pid *and* its start time, so a recycled pid is never signalled.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from stack.errors import StackError


def processes_under(path: Path, marker: str) -> list[int]:
    """Live processes whose command line names ``path`` and ``marker`` (a server's main
    class or program: a server on that data directory, not a ``tail`` of its log)."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "status"]):
        if proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(path) in cmdline and marker in cmdline:
            found.append(int(proc.info["pid"]))
    return found


@dataclass(frozen=True)
class ProcessRef:
    """A process we started: pid plus its start time as psutil reports it."""

    pid: int
    create_time: float

    @classmethod
    def of(cls, pid: int) -> ProcessRef:
        return cls(pid=pid, create_time=psutil.Process(pid).create_time())

    def process(self) -> psutil.Process | None:
        """The live process, or None when it has exited (or the pid was recycled)."""
        try:
            proc = psutil.Process(self.pid)
            if abs(proc.create_time() - self.create_time) > 0.01:
                return None
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except psutil.NoSuchProcess:
            return None

    def alive(self) -> bool:
        return self.process() is not None

    def terminate(self, timeout_s: float) -> bool:
        """SIGTERM, wait up to ``timeout_s``, then SIGKILL. True if it is gone afterwards."""
        proc = self.process()
        if proc is None:
            return True
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=timeout_s)
        except psutil.TimeoutExpired:
            proc.kill()
            try:
                proc.wait(timeout=10)
            except psutil.TimeoutExpired:
                return False
        except psutil.NoSuchProcess:
            pass
        return not self.alive()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def wait_until(predicate: Callable[[], object], timeout_s: float, interval_s: float = 0.1) -> bool:
    """Poll ``predicate()`` until it is truthy or the deadline passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


def start_server(argv: Sequence[str], log_file: Path, ready: Callable[[], bool], *,
                 name: str, timeout_s: float, cwd: Path | None = None) -> ProcessRef:
    """Start ``argv`` in its own session, its output appended to ``log_file``, and wait until
    ``ready()``; :class:`StackError` naming the log when it exits first or the deadline passes
    (it is stopped then)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        proc = subprocess.Popen(list(argv), cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    ref = ProcessRef.of(proc.pid)

    def up() -> bool:
        if proc.poll() is not None:
            raise StackError(f"{name} exited with {proc.returncode}; see {log_file}")
        return ready()

    if not wait_until(up, timeout_s, interval_s=0.1):
        ref.terminate(10)
        proc.wait()
        raise StackError(f"{name} did not start within {timeout_s:.0f} s; see {log_file}")
    return ref
