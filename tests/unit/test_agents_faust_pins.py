"""What the worker's Faust package (agents/faust_consumer.py) relies on in the installed
faust-streaming: an upgrade that changes it fails here, in one place."""

from __future__ import annotations

import ast
import inspect
from importlib.metadata import version
from pathlib import Path
from typing import Any, cast

import faust
from faust.events import Event
from faust.types.tuples import ConsumerMessage

from agents.worker.faust_consumer import AgentsApp, HeldEvents

PINNED = "0.15.3"


def test_the_installed_faust_is_the_pinned_one() -> None:
    assert version("faust-streaming") == PINNED


def test_faust_waits_for_acknowledgements_where_the_app_checkpoints_first() -> None:
    """A rebalance and a stop both wait in ``_consumer_wait_empty`` for every message handed
    to an agent; the app's override writes the held checkpoint before it."""
    for caller in (faust.App._on_partitions_revoked, faust.App._stop_consumer):
        assert "self._consumer_wait_empty" in inspect.getsource(caller), caller
    mine = inspect.signature(AgentsApp._consumer_wait_empty)
    assert list(mine.parameters) == list(
        inspect.signature(faust.App._consumer_wait_empty).parameters)


class Consumer:
    """Stands for Faust's consumer: records the final acknowledgements it is given."""

    def __init__(self) -> None:
        self.acked: list[int] = []

    def ack(self, message: ConsumerMessage) -> bool:
        self.acked.append(message.offset)
        return True


class App:
    def __init__(self) -> None:
        self.consumer = Consumer()


def delivered(app: App, offset: int) -> Event:
    message = ConsumerMessage("scans", 0, offset, 0.0, 0, None, b"k", b"v", None)
    message.incref()  # as Faust's conductor does for the one stream that reads it
    return Event(cast(Any, app), b"k", b"v", None, message)


def test_a_held_message_is_acknowledged_only_when_released() -> None:
    app = App()
    events = [delivered(app, 7), delivered(app, 8)]
    held = HeldEvents()
    held.hold(events)
    for event in events:  # what take_events does once the agent asks for the next batch
        event.ack()
    assert app.consumer.acked == [] and len(held) == 2
    held.release()
    assert app.consumer.acked == [7, 8] and len(held) == 0
    other = HeldEvents()
    other.hold([late := delivered(app, 9)])
    late.ack()
    other.forget()  # revoked: never acknowledged here
    assert app.consumer.acked == [7, 8] and len(other) == 0


def test_only_the_worker_package_knows_faust() -> None:
    """Everything that imports Faust (or its ``mode`` library) lives in ``agents/worker``."""
    agents = Path(__file__).resolve().parents[2] / "agents"
    knowing = []
    for path in sorted(agents.rglob("*.py")):
        tree = ast.parse(path.read_text())
        names = {alias.name.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.Import) for alias in node.names}
        names |= {node.module.split(".")[0] for node in ast.walk(tree)
                  if isinstance(node, ast.ImportFrom) and node.module and not node.level}
        if names & {"faust", "mode"}:
            knowing.append(path.relative_to(agents).as_posix())
    assert knowing and all(p.startswith("worker/") for p in knowing), knowing


def test_faust_assigns_topics_of_equal_partition_count_together() -> None:
    """The co-partitioning of lab results with scans rests on Faust's assignor grouping the
    topics an app subscribes to by their partition count."""
    from faust.assignor.partition_assignor import PartitionAssignor

    source = inspect.getsource(PartitionAssignor._get_copartitioned_groups)
    assert "topics_by_partitions[num_partitions].add(topic)" in source
