"""Commissioning against a real Modbus server: ``dry-run --json`` and ``probe`` as an operator
runs them, and the running producer's ``/health`` and ``/metrics``."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from edge_producer.config import PlantConfig
from edge_producer.config_loader import load_plant
from edge_producer.runtime import EdgeRuntime
from edge_producer.settings import EdgeSettings
from stack.processes import free_port
from streams.topics import Topics
from tests.integration.conftest import StackEndpoints
from tests.integration.modbus_harness import ModbusPeer, Unit, laid_out
from tests.waiting import eventually_async

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "configs" / "demo-plant.toml"


@pytest.fixture
async def plant_peer() -> AsyncIterator[ModbusPeer]:
    """The demo plant's three units with known values."""
    plc, analyser, chp = Unit(), Unit(), Unit()
    plc.holding[1] = 385  # dig1.temp_top 38.5 °C
    plc.holding[3] = 745  # dig1.ph 7.45
    plc.holding[10:12] = laid_out(">f", 123456.0, "ABCD")  # gas.flow_chp (out of range)
    plc.holding[16:18] = [0x0001, 0xE240]  # feed.solid_total 123456 kg
    plc.discrete[2] = True  # flare.on
    analyser.input[0:2] = laid_out(">f", 52.25, "CDAB")  # gas.ch4
    chp.holding[0] = 501
    server = ModbusPeer({1: plc, 2: analyser, 3: chp})
    await server.start()
    yield server
    await server.stop()


async def edge_cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from cli.edge_cmd import edge_app; edge_app()", *args,
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_dry_run_json_reads_every_tag_once(plant_peer: ModbusPeer) -> None:
    code, out, err = await edge_cli("dry-run", "--config", str(DEMO), "--json",
                                    "--modbus-port", str(plant_peer.port))
    assert code == 0, err
    doc = orjson.loads(out)
    assert len(doc) == 43
    assert doc["dig1.temp_top"] == {"value": 38.5, "quality": "good"}
    assert doc["dig1.ph"] == {"value": 7.45, "quality": "good"}
    assert doc["feed.solid_total"] == {"value": 123456, "quality": "good"}
    assert doc["flare.on"] == {"value": True, "quality": "good"}
    assert doc["gas.ch4"] == {"value": 52.25, "quality": "good"}
    assert doc["chp.p_el"] == {"value": 501, "quality": "good"}
    assert doc["gas.flow_chp"] == {"value": 123456.0, "quality": "out_of_range"}


async def test_dry_run_reports_a_failing_device_and_exits_1(plant_peer: ModbusPeer) -> None:
    plant_peer.units[3].exception = 4
    code, out, err = await edge_cli("dry-run", "--config", str(DEMO),
                                    "--modbus-port", str(plant_peer.port))
    assert code == 1
    line = next(x for x in out.splitlines() if x.startswith("chp.p_el "))
    assert line.split()[-1] == "device_exception" and " - " in line
    assert "device chp: degraded" in err and "exception 04" in err


async def test_probe_reads_the_device_and_ranks_the_right_order_first(
        plant_peer: ModbusPeer) -> None:
    code, out, err = await edge_cli("probe", "--config", str(DEMO), "--tag", "gas.ch4",
                                    "--modbus-port", str(plant_peer.port), "--top", "3")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "registers: 0x0000 0x4251"
    assert lines[1].split()[:2] == ["f32", "CDAB"] and "52.25" in lines[1]


async def test_health_and_metrics_of_a_running_producer(
        stack: StackEndpoints, topics: Topics, plant_peer: ModbusPeer, tmp_path: Path) -> None:
    plant_peer.units[2].exception = 2
    port = free_port()
    settings = EdgeSettings(journal=tmp_path / "j.sqlite", metrics_port=port,
                            topic_prefix=topics.prefix, kafka=stack.kafka,
                            modbus_port=plant_peer.port)
    plant: PlantConfig = load_plant(DEMO)
    runtime = EdgeRuntime(plant, settings)
    await runtime.start()
    try:
        async def get(path: str) -> tuple[str, bytes]:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            await writer.drain()
            data = await reader.read()
            writer.close()
            await writer.wait_closed()
            head, _, body = data.partition(b"\r\n\r\n")
            return head.split(b"\r\n")[0].decode(), body

        async def forwarded() -> bool:
            return runtime.forwarder.forwarded > 3 and runtime.report()["devices"].get(
                "analyser") == "degraded"

        await eventually_async(forwarded, timeout=30)
        status, body = await get("/health")
        assert status == "HTTP/1.1 200 OK"
        health = orjson.loads(body)
        assert health["status"] == "degraded"
        assert health["devices"] == {"plc": "online", "analyser": "degraded", "chp": "online"}
        assert health["broker"] == "closed"
        status, body = await get("/metrics")
        text = body.decode()
        assert status == "HTTP/1.1 200 OK"
        assert 'edge_modbus_exceptions_total{code="02",device="analyser"}' in text
        assert 'edge_poll_seconds_count{device="plc"}' in text
        assert "edge_journal_depth " in text and "edge_forwarded_events_total " in text
        assert 'edge_device_breaker_state{device="chp"} 0.0' in text
        assert (await get("/nope"))[0] == "HTTP/1.1 404 Not Found"
    finally:
        await runtime.stop()
