"""The demo's supervisor: a service that exits with a code it asks restarts for is started
again, after a backoff that grows with restarts in a row and has no cap on their number;
any other exit ends the demo."""

from __future__ import annotations

import sys
from pathlib import Path

from stack.supervisor import Backoff, Service, Supervisor
from tests.waiting import eventually


def test_a_service_asking_for_restarts_gets_them_with_a_growing_backoff(
        tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    code = f"open({str(runs)!r}, 'a').write('x'); raise SystemExit(75)"
    supervisor = Supervisor(tmp_path / "logs", {})
    supervisor.start(Service("agents", [sys.executable, "-c", code],
                             restart_on=frozenset({75})))
    said: list[str] = []
    backoff = Backoff(first_s=0.05, max_s=0.2)
    try:
        # well past any fixed cap: the service keeps being started again
        eventually(lambda: (supervisor.restart_or_report(said.append, backoff)
                            or runs.read_text().count("x") >= 8) if runs.exists() else None,
                   timeout=60, what="eight runs of the service")
    finally:
        supervisor.stop_all()
    assert not any(s.startswith("error") for s in said)
    waits = [float(s.split("again in ")[1].split(" s")[0]) for s in said if "again in" in s]
    assert waits[:4] == [0.05, 0.1, 0.2, 0.2]
    assert "asked for a restart (1 in a row)" in said[0]
    assert supervisor.restarts["agents"] >= 7


def test_the_backoff_doubles_up_to_its_longest() -> None:
    backoff = Backoff(first_s=1.0, max_s=60.0, healthy_after_s=600.0)
    assert [backoff.delay(n) for n in (1, 2, 3, 7, 8, 50)] == [1, 2, 4, 60, 60, 60]


def test_restarts_in_a_row_reset_after_a_run_that_lasted(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path / "logs", {})
    running = supervisor.start(Service("agents", [sys.executable, "-c", "raise SystemExit(75)"],
                                       restart_on=frozenset({75})))
    supervisor.restarts["agents"] = 6
    said: list[str] = []
    eventually(lambda: running.proc.poll() is not None, timeout=30, what="the exit")
    try:
        # the run that just ended lasted longer than healthy_after_s: one in a row again
        supervisor.restart_or_report(said.append, Backoff(healthy_after_s=0.0))
    finally:
        supervisor.stop_all()
    assert supervisor.restarts["agents"] == 1 and "again in 1 s" in said[0]


def test_other_exit_codes_end_the_run_at_once(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path / "logs", {})
    supervisor.start(Service("edge", [sys.executable, "-c", "raise SystemExit(1)"],
                             restart_on=frozenset({75})))
    said: list[str] = []
    try:
        eventually(lambda: supervisor.restart_or_report(said.append),
                   timeout=30, what="the service ending")
    finally:
        supervisor.stop_all()
    assert supervisor.restarts == {} and said == [
        f"error: edge exited with code 1; see {tmp_path / 'logs' / 'edge.log'}"]
