"""/health and /metrics as every service serves them, and what the agents worker and the
projector report there."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter

from agents.worker.health import WorkerHealth
from agents.worker.stall_watch import Offsets, Partition
from ops.endpoints import EndpointError, HealthServer
from projections.health import ProjectionProgress, ProjectorHealth


async def _get(port: int, path: str, method: str = "GET") -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


async def test_the_endpoints_answer_health_by_status_and_metrics_as_text() -> None:
    registry = CollectorRegistry()
    Counter("things", "Things done.", registry=registry).inc(3)
    report: dict[str, Any] = {"status": "starting"}
    server = HealthServer(registry, lambda: report, "127.0.0.1", 0)
    server.bind()  # taken before any loop runs
    await server.start()
    try:
        port = server.port
        assert port > 0
        code, body = await _get(port, "/health")
        assert code == 503 and json.loads(body) == {"status": "starting"}
        for status, expected in (("ok", 200), ("degraded", 200), ("down", 503)):
            report["status"] = status
            assert (await _get(port, "/health"))[0] == expected
        code, body = await _get(port, "/metrics")
        assert code == 200 and b"things_total 3.0" in body
        assert (await _get(port, "/nothing"))[0] == 404
        assert (await _get(port, "/health", "POST"))[0] == 405
    finally:
        await server.stop()


def test_a_port_in_use_is_said_at_once() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        server = HealthServer(CollectorRegistry(), dict, "127.0.0.1", port)
        with pytest.raises(EndpointError, match=f"127.0.0.1:{port}"):
            server.bind()


def test_the_worker_reports_readiness_lag_stalls_and_checkpoints() -> None:
    now = [1000.0]
    ready = [False]
    counts = {"scans": 0, "dead_letters": 0}
    health = WorkerHealth(counts, ready=lambda: ready[0], clock=lambda: now[0])
    assert health.status() == "starting"
    ready[0] = True
    assert health.status() == "ok"
    scans = Partition("plant.scans.v1", 2)
    health.offsets_read({scans: Offsets(committed=10, start=0, end=40),
                         Partition("plant.lab-results.v1", 0): Offsets(-1, 0, 0)})
    counts["scans"] = 25
    now[0] += 5.0
    health.batch_done(checkpointed=True)
    now[0] += 2.0
    health.batch_done(checkpointed=False)  # every scan skipped: nothing written
    now[0] += 1.0
    report = health.report()
    assert report["input_lag"] == {"plant.scans.v1:2": 30, "plant.lab-results.v1:0": 0}
    assert report["checkpoint_age_s"] == 3.0 and report["last_batch_s_ago"] == 1.0
    assert report["counts"]["scans"] == 25 and report["status"] == "ok"
    health.stalled([scans])
    health.seeks += 1
    assert health.report()["status"] == "degraded"
    assert health.report()["stalled"] == ["plant.scans.v1:2"]
    text = _exposition(health.registry)
    assert "agents_scans_total 25.0" in text
    assert 'agents_input_lag{partition="2",topic="plant.scans.v1"} 30.0' in text
    assert 'agents_input_stalled{partition="2",topic="plant.scans.v1"} 1.0' in text
    assert "agents_checkpoint_age_seconds 3.0" in text and "agents_ready 1.0" in text
    health.stalled([])
    assert health.status() == "ok"
    now[0] += 4.0
    health.checkpoint_done()  # a quiet input's checkpoint: no batch was handled
    assert health.report()["checkpoint_age_s"] == 0.0
    assert health.report()["last_batch_s_ago"] == 5.0


def test_the_projector_reports_lag_against_the_committed_log_and_a_refusing_database() -> None:
    now = [50.0]
    progress = ProjectionProgress()
    ends: dict[tuple[str, int], int | None] = {("plant.scans.v1", 0): 120,
                                               ("plant.alerts.v1", 1): None}
    health = ProjectorHealth(progress, lambda: ends, clock=lambda: now[0])
    assert health.status() == "starting"
    progress.synced = True
    progress.positions = {("plant.scans.v1", 0): 100, ("plant.alerts.v1", 1): 7}
    progress.events, progress.applied_at = 100, 45.0
    report = health.report()
    assert report["status"] == "ok" and report["lag"] == {"plant.scans.v1:0": 20}
    assert report["last_batch_s_ago"] == 5.0 and report["database"] == "answering"
    progress.db_failing_since, progress.db_errors = 40.0, 3
    report = health.report()
    assert report["status"] == "degraded" and report["database"] == "refusing for 10.0 s"
    text = _exposition(health.registry)
    assert "projector_database_up 0.0" in text and "projector_events_total 100.0" in text
    assert 'projector_lag{partition="0",topic="plant.scans.v1"} 20.0' in text


def _exposition(registry: CollectorRegistry) -> str:
    from prometheus_client import generate_latest

    return generate_latest(registry).decode()


@pytest.mark.parametrize(("module", "variable"), [("agents", "BIOGAS_AGENTS_METRICS_PORT"),
                                                  ("projections",
                                                   "BIOGAS_PROJECTOR_METRICS_PORT")])
def test_a_service_whose_port_is_taken_says_so_and_which_setting_to_change(
        module: str, variable: str) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        # nothing listens at the broker's or database's address: the port is checked first
        env = dict(os.environ, **{variable: str(port)},
                   BIOGAS_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1",
                   BIOGAS_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
        done = subprocess.run([sys.executable, "-m", module], cwd=root, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode in (1, 2), done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: cannot serve /health and /metrics on 127.0.0.1:")
    assert variable in last
