"""Edge polling cost: 1,000 tags (4 devices x 250: u16, i16 x0.1, f32 CDAB, u32) at 1 Hz from
a local Modbus server in another process, decoded and journalled durably; CPU of this process
over the run as a share of one core. Baseline side by side: a bare pymodbus client reading the
same blocks at the same rate, without decoding or journalling.

    .venv/bin/python -m benchmarks.edge_poll [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from pymodbus.client import AsyncModbusTcpClient

from edge_producer.config import PlantConfig
from edge_producer.journal import Journal
from edge_producer.metrics import EdgeMetrics
from edge_producer.modbus_link import ModbusLink
from edge_producer.planning import plan_plant
from edge_producer.poller import DevicePoller
from streams.logsetup import configure_logging
from streams.settings import LogSettings

DEVICES, TAGS_PER_DEVICE = 4, 250
_SERVER = """
import asyncio, sys
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

async def main():
    devices = [SimDevice(u, simdata=[SimData(0, count=1000, values=0x4142,
                                            datatype=DataType.REGISTERS)])
               for u in range(1, 5)]
    server = ModbusTcpServer(devices, address=("127.0.0.1", int(sys.argv[1])))
    await server.serve_forever()

asyncio.run(main())
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def plant(port: int) -> PlantConfig:
    kinds: list[dict[str, Any]] = [{"type": "u16"}, {"type": "i16", "scale": 0.1},
                                   {"type": "f32", "order": "CDAB"}, {"type": "u32"}]
    tags, devices = [], {}
    for d in range(DEVICES):
        name = f"dev{d}"
        devices[name] = {"host": "127.0.0.1", "port": port, "unit_id": d + 1, "timeout_s": 2}
        address = 0
        for i in range(TAGS_PER_DEVICE):
            kind = kinds[i % 4]
            tags.append({"name": f"{name}.t{i}", "device": name, "register": "holding",
                         "address": address, **kind})
            address += 2 if kind["type"] in ("f32", "u32") else 1
    return PlantConfig.model_validate({"plant_id": "bench", "devices": devices,
                                       "poll_groups": {"default": {"interval_s": 1.0}},
                                       "tags": tags})


async def edge(p: PlantConfig, seconds: float, journal_path: Path) -> tuple[float, int]:
    journal = Journal(journal_path, p.plant_id, uuid.uuid4(), p.journal,
                      EdgeMetrics())
    await journal.open()
    plans = plan_plant(p)
    metrics = EdgeMetrics()
    pollers = [DevicePoller(n, dev, [g for g in plans if g.device == n], ModbusLink(dev),
                            journal, metrics) for n, dev in p.devices.items()]
    cpu0 = time.process_time()
    tasks = [asyncio.create_task(poller.run()) for poller in pollers]
    await asyncio.sleep(seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    cpu = time.process_time() - cpu0
    scans = journal.stats().depth
    await journal.close()
    return cpu, scans


async def bare(p: PlantConfig, port: int, seconds: float) -> tuple[float, int]:
    plans = plan_plant(p)
    clients = {n: AsyncModbusTcpClient("127.0.0.1", port=port) for n in p.devices}
    for client in clients.values():
        await client.connect()
    cpu0, reads = time.process_time(), 0
    started = time.monotonic()
    next_at = started
    while time.monotonic() - started < seconds:
        for gp in plans:
            unit = p.devices[gp.device].unit_id
            for r in gp.requests:
                await clients[gp.device].read_holding_registers(r.start, count=r.count,
                                                                device_id=unit)
                reads += 1
        next_at += 1.0
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    cpu = time.process_time() - cpu0
    for client in clients.values():
        client.close()
    return cpu, reads


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args()
    configure_logging(LogSettings(level="warning"))
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", _SERVER, str(port)])
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("the Modbus server did not start") from None
                time.sleep(0.1)
        p = plant(port)
        requests = sum(len(g.requests) for g in plan_plant(p))
        base_cpu, reads = asyncio.run(bare(p, port, args.seconds))
        with tempfile.TemporaryDirectory() as tmp:
            cpu, scans = asyncio.run(edge(p, args.seconds, Path(tmp) / "j.sqlite"))
    finally:
        server.terminate()
        server.wait(timeout=10)
    sys.stdout.write(
        f"baseline  bare pymodbus reads, {requests} requests/s: {reads} reads in "
        f"{args.seconds:g} s, CPU {base_cpu / args.seconds:.1%} of a core\n"
        f"edge      {len(p.tags)} tags at 1 Hz in {requests} coalesced reads, decoded and "
        f"journalled: {scans} scans in {args.seconds:g} s, CPU {cpu / args.seconds:.1%} of a "
        f"core (target < 5 %)\n")


if __name__ == "__main__":
    main()
