"""An S3-compatible server on loopback for the model registry's tests: moto's standalone
server (``moto_server``, a real HTTP endpoint speaking the S3 API; nothing is patched in the
client), started from the virtualenv's scripts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from stack.errors import StackError
from stack.processes import ProcessRef, free_port, port_open, wait_until


@dataclass(frozen=True)
class S3Server:
    """A running server; any access key and secret are accepted."""

    endpoint_url: str
    process: ProcessRef
    log_file: Path


def start(log_file: Path, timeout_s: float = 60.0) -> S3Server:
    """Start a fresh, empty server on a free loopback port; wait until it accepts."""
    script = Path(sys.executable).parent / "moto_server"
    command = str(script) if script.exists() else shutil.which("moto_server")
    if command is None:
        raise StackError("moto_server not found: install the dev extras "
                         "(pip install -e '.[dev]', or ./dev setup)")
    port = free_port()
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        proc = subprocess.Popen([command, "-H", "127.0.0.1", "-p", str(port)], stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    ref = ProcessRef.of(proc.pid)

    def ready() -> bool:
        if proc.poll() is not None:
            raise StackError(f"moto_server exited with {proc.returncode}; see {log_file}")
        return port_open("127.0.0.1", port)

    if not wait_until(ready, timeout_s, interval_s=0.1):
        ref.terminate(10)
        proc.wait()
        raise StackError(f"moto_server did not listen within {timeout_s:.0f} s; see {log_file}")
    return S3Server(endpoint_url=f"http://127.0.0.1:{port}", process=ref, log_file=log_file)


def stop(server: S3Server) -> None:
    server.process.terminate(10)
