"""Simulator speed: run one simulated day at 3600x (24 s wall) with the Modbus server up and a
client polling all three units once per wall second, and print CPU use against wall time.
Baseline side by side: the bare model stepping the same day as fast as it can.

    .venv/bin/python benchmarks/sim_speed.py [--speed 3600] [--hours 24]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time

from pymodbus.client import AsyncModbusTcpClient

from simulator.engine import Simulation
from simulator.registers import ANALYSER, CHP, PLC
from simulator.runner import RunOptions, start_simulator
from simulator.scenario import load_scenario


def bare_model(hours: float) -> tuple[float, float]:
    sim = Simulation(load_scenario("demo"))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    sim.run(hours * 3600.0, 360.0)
    return time.process_time() - cpu0, time.perf_counter() - wall0


async def served(speed: float, hours: float) -> tuple[float, float, int]:
    sc = load_scenario("demo")
    run = await start_simulator(sc, RunOptions(port=0, speed=speed,
                                               duration_s=hours * 3600.0))
    client = AsyncModbusTcpClient("127.0.0.1", port=run.port, timeout=1.0, retries=0)
    await client.connect()
    polls = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    try:
        while not run.done.is_set():
            for prof in (PLC, CHP):
                await client.read_holding_registers(0, count=prof.size, device_id=prof.unit_id)
            await client.read_input_registers(0, count=ANALYSER.size, device_id=2)
            polls += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(run.done.wait(), timeout=1.0)
    finally:
        client.close()
        await run.stop()
    return time.process_time() - cpu0, time.perf_counter() - wall0, polls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--speed", type=float, default=3600.0)
    ap.add_argument("--hours", type=float, default=24.0)
    args = ap.parse_args()
    cpu_b, wall_b = bare_model(args.hours)
    sys.stdout.write(f"baseline  bare model, {args.hours:g} simulated h as fast as possible: "
                     f"cpu {cpu_b:.3f} s, wall {wall_b:.3f} s "
                     f"({args.hours * 3600 / wall_b:,.0f}x real time)\n")
    cpu, wall, polls = asyncio.run(served(args.speed, args.hours))
    sys.stdout.write(f"served    {args.hours:g} simulated h at {args.speed:g}x with Modbus server "
                     f"and {polls} client polls: cpu {cpu:.2f} s, wall {wall:.2f} s, "
                     f"cpu/wall = {cpu / wall:.1%} of one core (target < 50%)\n")


if __name__ == "__main__":
    main()
