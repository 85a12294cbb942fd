"""The overview page in headless Chromium against a real server: it shows the plant's current
values and its open alert (content checked in the rendered DOM; a screenshot is taken)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from api.app import create_app
from api.tokens import Role
from streams.settings import DatabaseSettings
from tests.integration.api_harness import (
    fill,
    plant_events,
    recent_start,
    served,
    settings_for,
    token,
    value_of,
)

pytestmark = pytest.mark.integration
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


async def _chromium(*args: str) -> bytes:
    assert CHROMIUM
    process = await asyncio.create_subprocess_exec(
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--no-first-run", "--window-size=1280,900", "--virtual-time-budget=15000", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    try:
        out, _ = await asyncio.wait_for(process.communicate(), 90)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, out[-2000:]
    return out


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium: apt-get install -y chromium")
async def test_overview_shows_values_and_open_alert(database: DatabaseSettings,
                                                    tmp_path: Path) -> None:
    _, events = plant_events("plant-a", recent_start(120), 120)
    _, others = plant_events("plant-b", recent_start(120), 5)
    fill(database, events + others)
    app = create_app(settings_for(database))
    async with served(app) as url:
        page = f"{url}/overview/plant-a#token={token(Role.OPERATOR, 'plant-a')}"
        dom = (await _chromium("--dump-dom", page)).decode()
        shot = tmp_path / "overview.png"
        await _chromium(f"--screenshot={shot}", page)
    assert 'data-loaded="true"' in dom, dom[-3000:]
    assert "CH4 falling at plant-a" in dom
    assert "plant-b" not in dom
    assert f'<tr data-tag="gas.ch4"><td>gas.ch4</td><td class="num">' \
           f'{value_of("gas.ch4", 119):.1f}</td>' in dom
    assert dom.count('class="chart"') >= 4 and "<polyline" in dom
    assert "degraded" in dom
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
