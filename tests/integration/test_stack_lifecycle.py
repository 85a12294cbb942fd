"""``biogas stack up|status|down`` on a stack of its own: idempotent, and down leaves nothing."""

from __future__ import annotations

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


def _biogas(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("BIOGAS_KAFKA_BOOTSTRAP_SERVERS", "BIOGAS_DATABASE_URL")}
    env["BIOGAS_STACK_DIR"] = str(state_dir)
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
