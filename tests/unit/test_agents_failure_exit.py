"""An agent that fails ends the worker at once, saying which agent, message and error."""

from __future__ import annotations

from structlog.testing import capture_logs

from agents.deadletter import Position
from agents.worker.failure_exit import exit_on_failure
from agents.worker.stall_watch import EXIT_STALLED


def test_a_failed_agent_is_logged_dumped_and_exits_for_a_restart() -> None:
    exits: list[int] = []
    dumped: list[bool] = []
    with capture_logs() as logs:
        exit_on_failure("detect", [Position("t.plant.scans.v1", 4, 1234)],
                        RuntimeError("KafkaTimeoutError: the broker took no snapshot"),
                        lambda: dumped.append(True), exits.append)
    assert exits == [EXIT_STALLED] and dumped == [True]
    (failed,) = [x for x in logs if x["event"] == "agents_agent_failed"]
    assert failed["agent"] == "detect" and failed["partition"] == 4
    assert failed["offset"] == 1234 and "took no snapshot" in failed["error"]


def test_a_dump_that_fails_still_exits() -> None:
    exits: list[int] = []

    def broken() -> None:
        raise OSError("stderr closed")

    exit_on_failure("alerts", [], ValueError("x"), broken, exits.append)
    assert exits == [EXIT_STALLED]
