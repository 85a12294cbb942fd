"""A TimescaleDB server for testing the projections' TimescaleDB layer on machines without it.

TimescaleDB cannot be installed here from system packages. PGlite (PostgreSQL 17 compiled to
WebAssembly) has a build with the TimescaleDB extension on the npm registry; ``server.mjs`` serves
it on loopback over the PostgreSQL wire protocol. Its limits: one connection at a time (a second
one waits for the first to close) and no ``COPY ... FROM STDIN``, so it runs the layer's SQL
(hypertables, compression, continuous aggregates, policies, version swap and drop), not the
projector. The Node packages are installed once with npm into the cache directory.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from stack.errors import StackError
from stack.processes import ProcessRef, free_port, start_server

_FILES = ("package.json", "server.mjs")


@dataclass(frozen=True)
class TimescaleWasmServer:
    """A running server; ``dsn`` connects to its single database as its superuser."""

    dsn: str
    process: ProcessRef
    log_file: Path


def ensure_runtime(cache_dir: Path) -> Path:
    """The directory holding ``server.mjs`` and its installed packages (installed on first use)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise StackError("node and npm are needed for the TimescaleDB test server; install "
                         "Node.js 18 or newer (apt-get install nodejs npm)")
    source = resources.files("stack") / "pglite"
    manifest = source.joinpath("package.json").read_text()
    home = cache_dir / "timescale-wasm"
    marker = home / ".installed"
    if marker.exists() and marker.read_text() == manifest:
        (home / "server.mjs").write_text(source.joinpath("server.mjs").read_text())
        return home
    home.mkdir(parents=True, exist_ok=True)
    for name in _FILES:
        (home / name).write_text(source.joinpath(name).read_text())
    result = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--omit=dev",
                             "--no-package-lock"], cwd=home, capture_output=True, text=True,
                            timeout=600, check=False)
    if result.returncode != 0:
        raise StackError(f"npm install in {home} failed (exit {result.returncode}): "
                         f"{result.stderr.strip()[-2000:]}")
    marker.write_text(manifest)
    return home


def start(cache_dir: Path, log_file: Path, timeout_s: float = 120.0) -> TimescaleWasmServer:
    """Start a fresh in-memory server on a free loopback port; wait until it accepts."""
    home = ensure_runtime(cache_dir)
    port = free_port()
    ref = start_server([str(shutil.which("node")), "server.mjs", str(port)], log_file,
                       lambda: "ready " in log_file.read_text(errors="replace"),
                       name="the TimescaleDB test server", timeout_s=timeout_s, cwd=home)
    dsn = f"postgresql://postgres:pglite@127.0.0.1:{port}/postgres?sslmode=disable"
    return TimescaleWasmServer(dsn=dsn, process=ref, log_file=log_file)


def stop(server: TimescaleWasmServer) -> None:
    """Stop the server (SIGTERM, then SIGKILL after 10 s)."""
    server.process.terminate(10)
