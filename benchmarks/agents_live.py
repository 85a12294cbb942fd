"""The agents worker at a live rate through the real broker: what state costs per second, with
a checkpoint after every batch (the worker before checkpoints were spaced out) beside the
shipped checkpoint interval (``BIOGAS_AGENTS_CHECKPOINT_EVERY_S``), in one run.

    .venv/bin/python benchmarks/agents_live.py [--streams 200] [--tags 50] [--seconds 120]

``--streams`` streams (one plant each) send one scan of ``--tags`` readings every second,
stamped with the wall clock, for a warm-up of 20 s and then ``--seconds`` measured. For each
configuration a fresh worker (``python -m agents``, shipped defaults otherwise) reads them;
over the measured window the benchmark reads the worker's CPU time and resident memory from
``/proc`` and its ``/metrics`` counters (scans, checkpoints, state bytes written to the
changelog), and compares the state bytes with the scan bytes it produced. ``--recovery``
then kills the worker with -9 (scans keep coming) and times how long a fresh one takes until
``/health`` is ok and it has caught up. Needs
``BIOGAS_KAFKA_BOOTSTRAP_SERVERS``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import numpy as np
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from agents.settings import AgentsSettings
from logio.topic_admin import delete_topics, ensure_topics
from streams.codec import encode
from streams.events import Quality, Reading
from streams.events import ScanRecorded as Scan
from streams.settings import KafkaSettings
from streams.topics import Topics

ROOT = Path(__file__).resolve().parents[1]
WARMUP_S = 20.0
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Sample:
    at: float
    cpu_s: float
    rss_mb: float
    counters: dict[str, float]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def sample(pid: int, port: int) -> Sample:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
    rss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text()
               .splitlines() if line.startswith("VmRSS:")) / 1024
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    counters = {}
    for line in text.splitlines():
        if line.startswith("agents_") and " " in line and "{" not in line:
            name, value = line.rsplit(" ", 1)
            counters[name] = float(value)
    return Sample(time.monotonic(), cpu, rss, counters)


class Plants:
    """The streams' scans, one per stream and second, from the wall clock."""

    def __init__(self, streams: int, tags: int) -> None:
        self.rng = np.random.default_rng(0)
        self.boot = uuid.uuid4()
        self.tags = [f"plc.t{i:02d}" for i in range(tags)]
        self.streams = [f"live{i:03d}" for i in range(streams)]
        self.seq = 0

    def second(self) -> list[Scan]:
        now = datetime.now(UTC)
        values = 100.0 + self.rng.normal(size=(len(self.streams), len(self.tags)))
        out = [Scan(plant_id=plant, edge_boot_id=self.boot, seq=self.seq, device="plc",
                    poll_group="fast", source_ts=now,
                    readings=tuple(Reading(tag=t, value=round(float(v), 3),
                                           quality=Quality.GOOD)
                                   for t, v in zip(self.tags, row, strict=True)))
               for plant, row in zip(self.streams, values, strict=True)]
        self.seq += 1
        return out


async def feed(servers: str, topics: Topics, plants: Plants, until: list[float],
               sent: list[int]) -> None:
    """One scan per stream each second until ``until[0]`` (which may move); ``sent[0]``:
    bytes (key + value)."""
    producer = AIOKafkaProducer(bootstrap_servers=servers, linger_ms=20,
                                max_batch_size=1 << 20, enable_idempotence=True)
    await producer.start()
    topic = topics.name("scans")
    try:
        tick = time.monotonic()
        while tick < until[0]:
            futs = []
            for scan in plants.second():
                key, value = topics.key_for(scan), encode(scan)
                sent[0] += len(key) + len(value)
                futs.append(await producer.send(topic, value, key=key))
            await asyncio.gather(*futs)
            tick += 1.0
            await asyncio.sleep(max(0.0, tick - time.monotonic()))
    finally:
        await producer.stop()


def health(port: int) -> dict[str, object]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as resp:
            body: dict[str, object] = json.loads(resp.read())
    except urllib.error.HTTPError as exc:  # 503 while starting: the body says so
        body = json.loads(exc.read())
    except OSError:
        body = {"status": "down"}
    return body


async def recover(env: dict[str, str], log: BinaryIO, port: int, streams: int,
                  every_s: float, deadline_s: float = 300.0) -> tuple[float, float]:
    """Seconds from a fresh start of the worker (after kill -9) until ``/health`` says ok,
    and until the scans it holds uncommitted are no more than a checkpoint interval's (plus
    two seconds): caught up."""
    start = time.monotonic()
    ready: float | None = None
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "agents", cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        while time.monotonic() - start < deadline_s:
            body = health(port)
            if body.get("status") == "ok" and ready is None:
                ready = time.monotonic() - start
            lag = body.get("input_lag")
            behind = sum(int(v) for k, v in lag.items() if ".scans." in str(k)) \
                if isinstance(lag, dict) else None
            if ready is not None and behind is not None and behind <= streams * (every_s + 2):
                return ready, time.monotonic() - start
            await asyncio.sleep(0.5)
        raise SystemExit(f"the restarted worker did not catch up within {deadline_s:g} s")
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=30)


async def run(servers: str, label: str, every_s: str, args: argparse.Namespace,
              recovery: bool = False) -> str:
    topics = Topics(prefix=f"bl{uuid.uuid4().hex[:8]}.")
    app_id = f"bench-live-{uuid.uuid4().hex[:8]}"
    kafka = KafkaSettings(bootstrap_servers=servers)
    await ensure_topics(kafka, topics)
    port = free_port()
    try:
        with tempfile.TemporaryDirectory() as tmp, (Path(tmp) / "worker.log").open("wb") as log:
            env = dict(os.environ, BIOGAS_KAFKA_BOOTSTRAP_SERVERS=servers,
                       BIOGAS_AGENTS_APP_ID=app_id, BIOGAS_TOPIC_PREFIX=topics.prefix,
                       BIOGAS_AGENTS_DATA_DIR=str(Path(tmp) / "d"),
                       BIOGAS_AGENTS_CHECKPOINT_EVERY_S=every_s,
                       BIOGAS_AGENTS_METRICS_PORT=str(port),
                       BIOGAS_LOG_LEVEL="warning", BIOGAS_LOG_FORMAT="json")
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "agents", cwd=ROOT, env=env, stdout=log,
                stderr=subprocess.STDOUT)
            try:
                plants = Plants(args.streams, args.tags)
                start = time.monotonic()
                until = [start + WARMUP_S + args.seconds + (3600.0 if recovery else 0.0)]
                sent = [0]
                feeding = asyncio.create_task(feed(servers, topics, plants, until, sent))
                await asyncio.sleep(WARMUP_S)
                before, sent_before = sample(proc.pid, port), sent[0]
                await asyncio.sleep(args.seconds)
                after, sent_after = sample(proc.pid, port), sent[0]
                recovered = None
                if recovery:  # kill -9 while scans keep coming, then a fresh worker
                    proc.kill()
                    await proc.wait()
                    recovered = await recover(env, log, port, args.streams, float(every_s))
                until[0] = 0.0
                await feeding
            finally:
                if proc.returncode is None:
                    proc.terminate()
                    await asyncio.wait_for(proc.wait(), timeout=30)
    finally:
        await delete_topics(kafka, topics.names())
        admin = AIOKafkaAdminClient(bootstrap_servers=servers)
        await admin.start()
        internal = [t for t in await admin.list_topics() if t.startswith(f"{app_id}-")]
        await admin.close()
        await delete_topics(kafka, internal)
    span = after.at - before.at

    def rate(name: str) -> float:
        return (after.counters.get(name, 0.0) - before.counters.get(name, 0.0)) / span

    scan_bytes = (sent_after - sent_before) / span
    state = rate("agents_state_bytes_total")
    readings = rate("agents_scans_total") * args.tags
    cpu = 100 * (after.cpu_s - before.cpu_s) / span
    checkpoints = rate("agents_checkpoints_total")
    tags = args.streams * args.tags
    per_checkpoint = state / checkpoints if checkpoints else 0.0
    line = (f"  {label:<22} {readings:9,.0f} readings/s  CPU {cpu:5.1f} % of a core  "
            f"RSS {after.rss_mb:6.0f} MB ({after.rss_mb * 1024 / tags:.1f} KB per tag)  "
            f"checkpoints {checkpoints:5.2f}/s of {per_checkpoint / 1e6:.1f} MB  "
            f"state {state / 1e6:7.2f} MB/s = {state / max(scan_bytes, 1):6.2f}x the scan "
            f"bytes ({scan_bytes / 1e6:.2f} MB/s)\n")
    if recovered is not None:
        line += (f"  {'':<22} after kill -9: ready in {recovered[0]:.1f} s (the dead member "
                 f"leaves the group after the session timeout), caught up in "
                 f"{recovered[1]:.1f} s\n")
    return line


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--tags", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=120.0,
                        help="measured window, after a 20-s warm-up")
    parser.add_argument("--recovery", action="store_true",
                        help="then kill -9 the worker at the shipped interval and time how "
                             "long a fresh one takes to catch up")
    args = parser.parse_args()
    servers = KafkaSettings().bootstrap_servers
    sys.stdout.write(f"{args.streams} streams x {args.tags} readings, one scan per stream "
                     f"and second, {args.seconds:g} s measured, through {servers}\n")
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # leaders of the new topics
    shipped = AgentsSettings.model_fields["checkpoint_every_s"].default
    for label, every in (("checkpoint every batch", "0"),
                         (f"every {shipped:g} s (default)", f"{shipped:g}")):
        sys.stdout.write(await run(servers, label, every, args,
                                   recovery=args.recovery and every != "0"))
        sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
