"""``biogas tail`` on the real broker: a topic's events as JSON lines, decoded by the contract."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from streams.topics import Topics
from tests.agents_streams import scripted_scans
from tests.integration.agents_harness import produce, produce_raw
from tests.integration.conftest import StackEndpoints

ROOT = Path(__file__).resolve().parents[2]


async def biogas_tail(stack: StackEndpoints, *args: str,
                      timeout: float = 60.0) -> tuple[int, list[str], str]:
    env = dict(os.environ, BIOGAS_KAFKA_BOOTSTRAP_SERVERS=stack.bootstrap_servers)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli.main", "tail", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode().splitlines(), err.decode()


async def test_tail_prints_a_plants_events_and_names_what_it_cannot_decode(
        stack: StackEndpoints, topics: Topics) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    await produce(stack, topics, scripted_scans(3, start, plant_id="plant-a"))
    await produce(stack, topics, scripted_scans(2, start, plant_id="plant-b"))
    await produce_raw(stack, topics.name("scans"), b"plant-a", b"not an event")
    code, lines, err = await biogas_tail(stack, "scans", "--prefix", topics.prefix,
                                         "--from-beginning", "--plant", "plant-a", "--idle", "3")
    assert code == 0, err
    events = [json.loads(line) for line in lines]
    assert [(e["event_type"], e["plant_id"], e["seq"]) for e in events] == [
        ("scan_recorded", "plant-a", k) for k in range(3)]
    assert f"skipped {topics.name('scans')}:" in err

    code, lines, err = await biogas_tail(stack, topics.name("scans"), "--from-beginning",
                                         "--count", "1", "--meta")
    (line,) = lines
    wrapped = json.loads(line)
    assert code == 0 and wrapped["topic"] == topics.name("scans") and wrapped["offset"] == 0
    assert wrapped["event"]["event_type"] == "scan_recorded" and wrapped["key"] is not None


async def test_tail_follows_new_events_and_refuses_an_unknown_topic(
        stack: StackEndpoints, topics: Topics) -> None:
    env = dict(os.environ, BIOGAS_KAFKA_BOOTSTRAP_SERVERS=stack.bootstrap_servers)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli.main", "tail", "scans", "--prefix", topics.prefix,
        "--count", "1", cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    waiting = asyncio.ensure_future(proc.communicate())
    seq = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    # from the end: it prints the first scan appended once it is reading (earlier ones not)
    while not waiting.done() and loop.time() < deadline:
        scan = scripted_scans(1, datetime.now(UTC), plant_id="live", first_seq=seq)[0]
        await produce(stack, topics, [scan])
        seq += 1
        await asyncio.wait([waiting], timeout=0.5)
    out, printed = await asyncio.wait_for(waiting, 10)
    assert proc.returncode == 0, printed
    (line,) = out.decode().splitlines()
    assert json.loads(line)["plant_id"] == "live"

    code, _, err = await biogas_tail(stack, "scans", "--prefix", "no-such-prefix.")
    assert code == 2 and "no topic 'no-such-prefix.plant.scans.v1' on the broker" in err
