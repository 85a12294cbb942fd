"""``biogas sim``: run the plant simulator (Modbus server driven by the process model)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from simulator.runner import RunOptions, start_simulator
from simulator.scenario import ScenarioError, list_scenarios, load_scenario
from simulator.server import SimulatorServerError
from streams.logsetup import configure_logging
from streams.settings import LogSettings

sim_app = typer.Typer(help="Plant simulator: AM2 process model behind a Modbus TCP server.",
                      no_args_is_help=True)


async def _serve(scenario_path: str, opts: RunOptions) -> None:
    run = await start_simulator(load_scenario(scenario_path), opts)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    waiter = asyncio.create_task(run.wait())
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    for t in (waiter, stopper):
        t.cancel()
    await run.stop()


@sim_app.command("run")
def run(
    scenario: Annotated[str, typer.Option(
        "--scenario", "-s", help="scenario TOML file, or a shipped name (e.g. demo)")],
    speed: Annotated[float | None, typer.Option(help="simulated s per wall s")] = None,
    seed: Annotated[int | None, typer.Option(help="random seed (default: scenario's)")] = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Modbus TCP port (units 1, 2, 3)")] = 5020,
    labels: Annotated[Path | None, typer.Option(help="ground-truth label file (JSON lines)")
                      ] = None,
    duration_h: Annotated[float | None, typer.Option(help="simulated hours to run")] = None,
    start: Annotated[str | None, typer.Option(
        help="simulated start, ISO 8601 (UTC if no zone), e.g. 2026-03-01T00:00:00Z")] = None,
) -> None:
    """Run a scenario until it ends (duration) or Ctrl-C."""
    configure_logging(LogSettings())
    start_at = None
    if start is not None:
        try:
            start_at = datetime.fromisoformat(start)
        except ValueError:
            typer.echo(f"--start {start!r} is not ISO 8601; use e.g. 2026-03-01T00:00:00Z",
                       err=True)
            raise typer.Exit(2) from None
        if start_at.tzinfo is None:
            start_at = start_at.replace(tzinfo=UTC)
    opts = RunOptions(speed=speed, seed=seed, host=host, port=port, labels=labels,
                      duration_s=duration_h * 3600.0 if duration_h else None, start=start_at)
    try:
        asyncio.run(_serve(scenario, opts))
    except (ScenarioError, SimulatorServerError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


@sim_app.command("scenarios")
def scenarios() -> None:
    """List the shipped scenarios."""
    for name in list_scenarios():
        typer.echo(name)
