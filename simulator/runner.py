"""Async run loop: advance the simulation in simulated time at the chosen speed, refresh the
Modbus registers, write fault labels. Wall time × speed = simulated time."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from simulator.engine import Simulation
from simulator.labels import LabelWriter
from simulator.scenario import Scenario
from simulator.server import PlantModbusServer
from streams.logsetup import get_logger

log = get_logger("simulator.runner")


@dataclass
class SimClock:
    """Maps wall (monotonic) time to simulated seconds since the run start."""

    speed: float
    wall0: float = 0.0

    def start(self, now: float | None = None) -> None:
        self.wall0 = time.monotonic() if now is None else now

    def sim_elapsed(self, now: float | None = None) -> float:
        wall = time.monotonic() if now is None else now
        return (wall - self.wall0) * self.speed


@dataclass
class RunOptions:
    speed: float | None = None  # default: the scenario's
    seed: int | None = None  # default: the scenario's
    host: str = "127.0.0.1"
    port: int = 5020
    labels: Path | None = None
    duration_s: float | None = None  # simulated; default: the scenario's duration_h
    tick_s: float = 0.1  # wall seconds between model updates
    start: datetime | None = None  # simulated UTC start; default: the scenario's


class SimulatorRun:
    """A running simulator (server + loop). Use :func:`start_simulator` to create one."""

    def __init__(self, scenario: Scenario, opts: RunOptions) -> None:
        hdr = scenario.scenario
        if opts.start is not None:
            hdr = hdr.model_copy(update={"start": opts.start})
            scenario = scenario.model_copy(update={"scenario": hdr})
        self.opts = opts
        self.speed = opts.speed or hdr.speed
        self.labels = LabelWriter(opts.labels)
        self.sim = Simulation(scenario, seed=opts.seed, labels=self.labels)
        self.server = PlantModbusServer(self.sim, host=opts.host, port=opts.port,
                                        seed=self.sim.seed)
        self.clock = SimClock(self.speed)
        if opts.duration_s is not None:
            self.duration_s: float | None = opts.duration_s
        else:
            self.duration_s = hdr.duration_h * 3600.0 if hdr.duration_h else None
        self.done = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.cpu_s = 0.0
        self.on_tick: Callable[[Simulation], None] | None = None
        self.pinned: dict[str, float] = {}

    def pin(self, values: dict[str, float]) -> None:
        """Hold tags at fixed engineering values from now on (e.g. golden values in tests)."""
        self.pinned.update(values)
        self.sim.values.update(self.pinned)
        self.server.refresh()

    @property
    def port(self) -> int:
        return self.server.port

    async def start(self) -> None:
        await self.server.start()
        self.clock.start()
        self._task = asyncio.create_task(self._loop(), name="simulator-loop")
        log.info("simulator_started", host=self.opts.host, port=self.server.port,
                 speed=self.speed, seed=self.sim.seed, start=self.sim.start.isoformat())

    async def _loop(self) -> None:
        try:
            while True:
                cpu0 = time.process_time()
                target = self.clock.sim_elapsed()
                if self.duration_s is not None:
                    target = min(target, self.duration_s)
                dt = target - self.sim.elapsed_s
                if dt > 0.0:
                    self.sim.advance(dt)
                    self.sim.values.update(self.pinned)
                    self.server.refresh()
                    if self.on_tick is not None:
                        self.on_tick(self.sim)
                self.cpu_s += time.process_time() - cpu0
                if self.duration_s is not None and self.sim.elapsed_s >= self.duration_s - 1e-6:
                    break
                await asyncio.sleep(self.opts.tick_s)
        finally:
            self.done.set()

    async def wait(self) -> None:
        await self.done.wait()

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.server.stop()
        self.labels.close()
        log.info("simulator_stopped", simulated_s=round(self.sim.elapsed_s, 1),
                 sim_time=self.sim.now.isoformat())


async def start_simulator(scenario: Scenario, opts: RunOptions | None = None) -> SimulatorRun:
    """Start the Modbus server and the run loop; returns the handle (``.port``, ``.sim``,
    ``.stop()``). ``RunOptions(port=0)`` picks a free port."""
    run = SimulatorRun(scenario, opts or RunOptions())
    await run.start()
    return run
