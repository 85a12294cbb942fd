"""``biogas stack up|down|status``: the local Kafka broker and PostgreSQL server."""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated

import typer

from stack.errors import StackError
from stack.launcher import StackInfo, down, status, up
from stack.settings import StackSettings
from streams.errors import BiogasError

stack_app = typer.Typer(help="Run the local stack: a Kafka broker (KRaft) and PostgreSQL.",
                        no_args_is_help=True)


def _progress(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def print_info(info: StackInfo) -> None:
    """Connection settings (as shell exports) and where the logs are."""
    for comp in (info.kafka, info.postgres):
        state = "running" if comp.running else ("not answering" if comp.alive else "stopped")
        owner = "started by this stack" if comp.managed else "named by the environment"
        pid = f", pid {comp.pid}" if comp.pid else ""
        print(f"# {comp.name}: {state} ({owner}{pid})")
        if comp.log_file:
            print(f"#   log: {comp.log_file}")
    print(f"# state: {info.state_dir}")
    for key, value in info.env().items():
        print(f"export {key}={value}")


@stack_app.command("up")
def up_cmd() -> None:
    """Start the broker and the database (idempotent) and print their connection settings."""
    settings = StackSettings()
    started = time.monotonic()
    try:
        info = up(settings, progress=_progress)
    except BiogasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from exc
    _progress(f"stack up in {time.monotonic() - started:.1f} s")
    print_info(info)


@stack_app.command("down")
def down_cmd() -> None:
    """Stop exactly the servers this stack started."""
    try:
        problems = down(StackSettings(), progress=_progress)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from exc
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        raise typer.Exit(1)
    _progress("stack down")


def info_json(info: StackInfo) -> str:
    """What ``print_info`` says, as one JSON document (for scripts)."""
    components = [{"name": c.name, "address": c.address, "running": c.running,
                   "alive": c.alive, "managed": c.managed, "pid": c.pid, "log_file": c.log_file}
                  for c in (info.kafka, info.postgres)]
    return json.dumps({"state_dir": str(info.state_dir), "components": components,
                       "env": info.env()}, indent=2)


@stack_app.command("status")
def status_cmd(as_json: Annotated[bool, typer.Option(
        "--json", help="One JSON document instead of comments and exports.")] = False) -> None:
    """Say what runs; exit 1 when a server of this stack is not running."""
    try:
        info = status(StackSettings())
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from exc
    if as_json:
        print(info_json(info))
    else:
        print_info(info)
    if not (info.kafka.running and info.postgres.running):
        raise typer.Exit(1)
