"""Where every suspended async generator of the worker waits (printed with mode's task dump on
SIGUSR1, see :mod:`agents.runner`).

A task's stack stops at an async generator (``async_generator_asend``): the Faust agents and
their streams are async generators, so the line a stream waits on is not in it. Here each live
async generator found by the garbage collector is printed with its await chain
(``ag_await``/``cr_await``/``gi_yieldfrom``) as plain lines.
"""

from __future__ import annotations

import gc
import inspect
import sys
from typing import IO, Any

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
        if obj is not None and frame is None:
            lines.append(f"  awaiting {type(obj).__name__}")
    return lines


def dump_async_generators(out: IO[Any] = sys.stderr) -> int:
    """Print every suspended async generator and what it awaits; returns how many."""
    found = [g for g in gc.get_objects() if inspect.isasyncgen(g) and g.ag_frame is not None]
    print(f"--- {len(found)} suspended async generators ---", file=out)
    for gen in found:
        print(f"async generator {gen.ag_code.co_qualname} (running={gen.ag_running})",
              file=out)
        for line in _chain(gen):
            print(line, file=out)
    print("--- end of async generators ---", file=out, flush=True)
    return len(found)


def dump_consumer(app: Any, out: IO[Any] = sys.stderr) -> None:
    """The Faust consumer's view of its partitions: assigned, active (fetched), paused, and
    taken out of fetching because a stream's buffer was full."""
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
          f"{getattr(app, 'rebalancing', None)}", file=out, flush=True)
