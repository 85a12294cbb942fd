"""An S3-compatible server on loopback for the model registry's tests: moto's standalone
server (``moto_server``, a real HTTP endpoint speaking the S3 API; nothing is patched in the
client), started from the virtualenv's scripts."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from stack.errors import StackError
from stack.processes import ProcessRef, free_port, port_open, start_server


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
    ref = start_server([command, "-H", "127.0.0.1", "-p", str(port)], log_file,
                       lambda: port_open("127.0.0.1", port), name="moto_server",
                       timeout_s=timeout_s)
    return S3Server(endpoint_url=f"http://127.0.0.1:{port}", process=ref, log_file=log_file)


def stop(server: S3Server) -> None:
    server.process.terminate(10)
