"""``biogas stack up|status|down`` on a stack of its own: idempotent, and down leaves nothing."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from tests.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]


def _biogas(state_dir: Path, *args: str,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``biogas stack ARGS`` on this stack; ``env``: variables set beside it."""
    base = {k: v for k, v in os.environ.items()
            if k not in ("BIOGAS_KAFKA_BOOTSTRAP_SERVERS", "BIOGAS_DATABASE_URL")}
    env = {**base, **(env or {}), "BIOGAS_STACK_DIR": str(state_dir)}
    return subprocess.run([sys.executable, "-m", "cli.main", "stack", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180, check=False)


def _exports(stdout: str) -> dict[str, str]:
    pairs = [line.removeprefix("export ").split("=", 1) for line in stdout.splitlines()
             if line.startswith("export ")]
    return {k: v for k, v in pairs}


def _servers_under(state_dir: Path) -> list[int]:
    """Broker or database processes whose command line points into this stack's directory."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "status"]):
        if proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(state_dir) in cmdline:
            found.append(proc.info["pid"])
    return found


@pytest.mark.allow_process_leak
def test_up_is_idempotent_and_down_leaves_no_server_running() -> None:
    state_dir = Path(tempfile.mkdtemp(prefix="biogas-lifecycle-"))
    try:
        first = _biogas(state_dir, "up")
        assert first.returncode == 0, first.stderr
        settings = _exports(first.stdout)
        assert settings["BIOGAS_KAFKA_BOOTSTRAP_SERVERS"].startswith("127.0.0.1:")
        assert settings["BIOGAS_DATABASE_URL"].startswith("postgresql://")
        assert "log:" in first.stdout
        assert len(_servers_under(state_dir)) >= 2

        second = _biogas(state_dir, "up")
        assert second.returncode == 0, second.stderr
        assert _exports(second.stdout) == settings
        assert "already running" in second.stderr

        status = _biogas(state_dir, "status")
        assert status.returncode == 0
        assert status.stdout.count(": running") == 2

        down = _biogas(state_dir, "down")
        assert down.returncode == 0, down.stderr
        eventually(lambda: not _servers_under(state_dir), timeout=30,
                   what="every broker and database process of the stack to exit")
        status = _biogas(state_dir, "status")
        assert status.returncode == 1
        assert status.stdout.count(": stopped") == 2
    finally:
        _biogas(state_dir, "down")
        shutil.rmtree(state_dir, ignore_errors=True)


def _kill_servers_under(state_dir: Path) -> None:
    for pid in _servers_under(state_dir):
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(pid).kill()


@pytest.mark.allow_process_leak
def test_the_stack_never_takes_itself_for_another_nor_starts_twice_on_its_data() -> None:
    state_dir = Path(tempfile.mkdtemp(prefix="biogas-self-"))
    try:
        first = _biogas(state_dir, "up")
        assert first.returncode == 0, first.stderr
        exports = _exports(first.stdout)
        servers = sorted(_servers_under(state_dir))
        # again, in the shell its exports went to: still its own servers, not external ones
        again = _biogas(state_dir, "up", env=exports)
        assert again.returncode == 0, again.stderr
        assert "named by the environment" not in again.stderr + again.stdout
        state = json.loads((state_dir / "state.json").read_text())
        assert not state["kafka"]["external"] and state["kafka"]["pid"]
        assert not state["postgres"]["external"] and state["postgres"]["pid"]

        # a database that does not answer is not "running"
        postmaster = psutil.Process(int(state["postgres"]["pid"]))
        postmaster.suspend()
        try:
            status = _biogas(state_dir, "status")
            assert status.returncode == 1
            assert "# postgres: not answering" in status.stdout, status.stdout
            assert "# kafka: running" in status.stdout
        finally:
            postmaster.resume()

        # a state file lost while the servers run: no second broker on the same data
        (state_dir / "state.json").unlink()
        blind = _biogas(state_dir, "up")
        assert blind.returncode != 0
        assert "already runs on" in blind.stderr and "kill" in blind.stderr, blind.stderr
        assert sorted(_servers_under(state_dir)) == servers
    finally:
        _biogas(state_dir, "down")
        _kill_servers_under(state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.mark.allow_process_leak
def test_a_failed_up_stops_what_it_started() -> None:
    state_dir = Path(tempfile.mkdtemp(prefix="biogas-failed-"))
    try:
        # a broker that cannot start (a heap too small for the JVM) beside a database that can
        failed = _biogas(state_dir, "up", env={"BIOGAS_STACK_KAFKA_HEAP": "1k"})
        assert failed.returncode != 0
        assert "postgres: stopping pid" in failed.stderr, failed.stderr
        eventually(lambda: not _servers_under(state_dir), timeout=30,
                   what="the database this failed stack up started to stop")
    finally:
        _biogas(state_dir, "down")
        _kill_servers_under(state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)
