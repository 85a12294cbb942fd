"""The demo's supervisor: a service that exits with a code it asks restarts for is started
again (a bounded number of times); any other exit ends the demo."""

from __future__ import annotations

import sys
from pathlib import Path

from stack.supervisor import Service, Supervisor
from tests.waiting import eventually


def test_a_service_asking_for_restarts_gets_them_then_its_exit_ends_the_run(
        tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    code = f"open({str(runs)!r}, 'a').write('x'); raise SystemExit(75)"
    supervisor = Supervisor(tmp_path / "logs", {})
    supervisor.start(Service("agents", [sys.executable, "-c", code],
                             restart_on=frozenset({75})))
    said: list[str] = []
    restarts: dict[str, int] = {}
    try:
        eventually(lambda: supervisor.restart_or_report(restarts, 2, said.append),
                   timeout=30, what="the service ending after its restarts")
    finally:
        supervisor.stop_all()
    assert restarts == {"agents": 2}
    assert runs.read_text() == "xxx"  # the first run and two restarts
    assert [s.split(" exited")[0].strip() for s in said] == ["agents", "agents",
                                                            "error: agents"]
    assert "asked for a restart (1 of 2)" in said[0] and "with code 75" in said[2]


def test_other_exit_codes_end_the_run_at_once(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path / "logs", {})
    supervisor.start(Service("edge", [sys.executable, "-c", "raise SystemExit(1)"],
                             restart_on=frozenset({75})))
    said: list[str] = []
    restarts: dict[str, int] = {}
    try:
        eventually(lambda: supervisor.restart_or_report(restarts, 5, said.append),
                   timeout=30, what="the service ending")
    finally:
        supervisor.stop_all()
    assert restarts == {} and said == [
        f"error: edge exited with code 1; see {tmp_path / 'logs' / 'edge.log'}"]
