"""Where every suspended async generator of the worker waits (printed with mode's task dump on
SIGUSR1, see :mod:`agents.worker.runner`).

A task's stack stops at an async generator (``async_generator_asend``): the Faust agents and
their streams are async generators, so the line a stream waits on is not in it. Here each live
async generator found by the garbage collector is printed with its await chain
(``ag_await``/``cr_await``/``gi_yieldfrom``) as plain lines.
"""

from __future__ import annotations

import gc
import inspect
import os
import sys
import time
from collections.abc import Callable
from typing import IO, Any

from streams.logsetup import get_logger

MAX_DEPTH = 50


def _chain(obj: Any) -> list[str]:
    lines: list[str] = []
    for _ in range(MAX_DEPTH):
        if obj is None:
            break
        frame = (getattr(obj, "ag_frame", None) or getattr(obj, "cr_frame", None)
                 or getattr(obj, "gi_frame", None))
        if frame is not None:
            code = frame.f_code
            lines.append(f"  {code.co_filename}:{frame.f_lineno} in {code.co_name}")
        obj = (getattr(obj, "ag_await", None) or getattr(obj, "cr_await", None)
               or getattr(obj, "gi_yieldfrom", None))
        if obj is not None and not any(getattr(obj, name, None) is not None
                                       for name in ("ag_frame", "cr_frame", "gi_frame")):
            lines.append(f"  awaiting {type(obj).__name__}")  # compiled: no frame to follow
            break
    return lines


def _buffer_state(names: dict[str, Any]) -> str:
    """What a buffering generator (a stream's ``take_events``) holds: how many events it has
    buffered, its full/consumed signals and the future the stream's feeder waits on while a
    batch is out, plus the size of the stream's channel queue."""
    parts = []
    for name, value in names.items():
        if isinstance(value, list):
            parts.append(f"{name}={len(value)}")
        elif hasattr(value, "is_set"):
            parts.append(f"{name}={'set' if value.is_set() else 'clear'}")
        elif hasattr(value, "done") and hasattr(value, "cancelled"):
            parts.append(f"{name}={'done' if value.done() else 'pending'}")
        elif name == "buffer_consuming" and value is None:
            parts.append("buffer_consuming=None")
    queue = getattr(getattr(names.get("self"), "channel", None), "queue", None)
    if parts and queue is not None:
        parts.append(f"channel queue={queue.qsize()}")
    return ", ".join(parts)


def dump_async_generators(out: IO[Any] = sys.stderr) -> int:
    """Print every suspended async generator and what it awaits; returns how many."""
    found = [g for g in gc.get_objects() if inspect.isasyncgen(g) and g.ag_frame is not None]
    print(f"--- {len(found)} suspended async generators ---", file=out)
    for gen in found:
        print(f"async generator {gen.ag_code.co_qualname} (running={gen.ag_running})",
              file=out)
        for line in _chain(gen):
            print(line, file=out)
        frame = gen.ag_frame
        state = "" if frame is None else _buffer_state(frame.f_locals)
        if state:
            print(f"  state: {state}", file=out)
    print("--- end of async generators ---", file=out, flush=True)
    return len(found)


def dump_consumer(app: Any, out: IO[Any] = sys.stderr) -> None:
    """The Faust consumer's view of its partitions: assigned, active (fetched), paused, and
    taken out of fetching because a stream's buffer was full; then, per stream partition, what
    Faust has read and committed, what aiokafka will fetch next and whether a fetch is buffered
    or in flight, and how many events wait in the stream's queue."""
    consumer = getattr(app, "_consumer", None)
    if consumer is None:
        print("--- no consumer yet ---", file=out, flush=True)
        return
    print("--- consumer partitions ---", file=out)
    for name in ("assignment", "_active_partitions", "_paused_partitions",
                 "_buffered_partitions"):
        value = getattr(consumer, name, None)
        tps = value() if callable(value) else value
        listed = sorted(f"{tp.topic}:{tp.partition}" for tp in tps or ())
        print(f"{name.strip('_')}: {', '.join(listed) or '-'}", file=out)
    print(f"flow active: {getattr(consumer, 'flow_active', None)}, app rebalancing: "
          f"{getattr(app, 'rebalancing', None)}, in recovery: "
          f"{getattr(app, 'in_recovery', None)}", file=out)
    _dump_positions(app, consumer, out)
    print("--- end of consumer partitions ---", file=out, flush=True)


def _ago(timestamp_ms: int | None) -> str:
    return "never" if not timestamp_ms else f"{time.time() - timestamp_ms / 1000:.1f} s ago"


def _dump_positions(app: Any, consumer: Any, out: IO[Any]) -> None:
    try:
        client = consumer._thread._consumer  # the aiokafka consumer in Faust's thread
        assignment = client._subscription.subscription.assignment
        fetcher = client._fetcher
        records, in_flight = dict(fetcher._records), set(fetcher._in_flight)
        index = app.topics._tp_index
    except AttributeError as exc:  # another Faust or aiokafka: say so, print the rest
        print(f"(no aiokafka internals: {exc})", file=out)
        return
    print(f"fetches in flight to nodes: {sorted(in_flight) or '-'}", file=out)
    for tp in sorted(consumer.assignment() or (), key=lambda t: (t.topic, t.partition)):
        if consumer._is_changelog_tp(tp) or tp.topic.endswith("__leader"):
            continue
        state = assignment.state_value(tp) if assignment is not None else None
        where = ("-" if state is None else
                 f"position {state._position}, paused {state.paused}, "
                 f"reset {state.reset_strategy}, highwater {state.highwater}, last fetch "
                 f"{_ago(state.timestamp)}")
        queues = [chan.queue.qsize() for chan in index.get(tp, ())]
        print(f"{tp.topic}:{tp.partition} read {consumer._read_offset.get(tp)} committed "
              f"{consumer._committed_offset.get(tp)} | aiokafka {where}, buffered "
              f"{type(records[tp]).__name__ if tp in records else '-'} | "
              f"highwater {consumer.highwater(tp)} | stream queues {queues}", file=out)


def dump_worker(app: Any, out: IO[Any] = sys.stderr) -> None:
    """Where every async generator waits, and what the consumer fetches."""
    dump_async_generators(out)
    dump_consumer(app, out)


def dump_then_exit(dump: Callable[[], None], code: int,
                   exit_now: Callable[[int], None] = os._exit) -> None:
    """The worker's hard exit (like ``kill -9``: its state and offsets are on the log):
    ``dump`` (a failure there is logged, never stops the exit), flush, exit with ``code``."""
    try:
        dump()
    except Exception as exc:  # noqa: BLE001 - the exit below matters more than the dump
        get_logger("agents.exit").error("agents_dump_failed", error=repr(exc))
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        exit_now(code)
