"""``biogas demo`` starts the services against the stack, serves /health, and Ctrl-C stops all."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import psutil

from stack.processes import free_port, port_open
from streams.settings import DatabaseSettings
from tests.integration.conftest import StackEndpoints
from tests.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]


def _health(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
            status: int = resp.status
            return status
    except (urllib.error.URLError, OSError):
        return None


def _latest(port: int, token: str) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/plants/demo-plant/latest",
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=3) as resp:
            return len(json.loads(resp.read()))
    except (urllib.error.URLError, OSError, ValueError):
        return 0


def _edge_forwarded(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
            report = json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return bool(report.get("forwarded", 0) > 0 and report.get("status") == "ok")


def _ops(port: int, path: str) -> str | None:
    """The body of a service's /health or /metrics (None: no answer, or not 200)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as resp:
            return resp.read().decode() if resp.status == 200 else None
    except (urllib.error.URLError, OSError):
        return None


def _counted(port: int, key: str, within: str | None = None) -> bool:
    """Whether the /health report counts some ``key`` (in its ``within`` object)."""
    body = _ops(port, "/health")
    if body is None:
        return False
    report = json.loads(body)
    if within is not None:
        report = report.get(within, {})
    return bool(report.get(key, 0) > 0)


def test_demo_runs_services_and_ctrl_c_stops_them(stack: StackEndpoints,
                                                  database: DatabaseSettings,
                                                  tmp_path: Path) -> None:
    port, modbus_port, edge_port = free_port(), free_port(), free_port()
    agents_port, projector_port = free_port(), free_port()
    env = dict(os.environ, BIOGAS_KAFKA_BOOTSTRAP_SERVERS=stack.bootstrap_servers,
               BIOGAS_DATABASE_URL=stack.database_url,
               BIOGAS_DATABASE_SCHEMA_NAME=database.schema_name,
               BIOGAS_STACK_DIR=str(tmp_path / "stack"))
    log = (tmp_path / "demo.log").open("wb")
    demo = subprocess.Popen([sys.executable, "-m", "cli.main", "demo", "--api-port", str(port),
                             "--modbus-port", str(modbus_port),
                             "--edge-metrics-port", str(edge_port),
                             "--agents-metrics-port", str(agents_port),
                             "--projector-metrics-port", str(projector_port)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        eventually(lambda: demo.poll() is None and _health(port) == 200, timeout=90,
                   what="the demo's API to answer /health")
        children = psutil.Process(demo.pid).children(recursive=True)
        assert len(children) >= 2, "the demo runs its services as child processes"
        eventually(lambda: port_open("127.0.0.1", modbus_port), timeout=30,
                   what="the simulated plant's Modbus server")
        eventually(lambda: _edge_forwarded(edge_port), timeout=60,
                   what="the edge producer to read the plant and forward scans")
        text = (tmp_path / "demo.log").read_text()
        assert f"http://127.0.0.1:{port}/health" in text
        match = re.search(r"/overview/demo-plant#token=(\S+)", text)
        assert match, text[-2000:]
        token = match.group(1)
        eventually(lambda: _latest(port, token) > 10, timeout=60,
                   what="the projector to materialise the plant's readings for the API")
        # every service answers /health and /metrics with what it did
        eventually(lambda: _counted(projector_port, "events"), timeout=30,
                   what="the projector's /health to count projected events")
        eventually(lambda: _counted(agents_port, "scans", within="counts"), timeout=60,
                   what="the agents worker's /health to count processed scans")
        # the input offsets are read with the stall watch's (every 10 s by default)
        eventually(lambda: "agents_input_lag{" in (_ops(agents_port, "/metrics") or ""),
                   timeout=30, what="the agents worker's /metrics to show its input lag")
        assert "agents_scans_total" in (_ops(agents_port, "/metrics") or "")
        assert "projector_events_total" in (_ops(projector_port, "/metrics") or "")
        assert f"http://127.0.0.1:{agents_port}/health" in (tmp_path / "demo.log").read_text()
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=60) == 0, (tmp_path / "demo.log").read_text()[-2000:]
        eventually(lambda: not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE
                                   for c in children), timeout=30,
                   what="the demo's services to exit")
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        log.close()
