"""Every SQL query of the provisioned Grafana dashboard runs against the real projections and
returns the plant's data."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from streams.settings import DatabaseSettings
from tests.integration.api_harness import fill, plant_events, recent_start

pytestmark = pytest.mark.integration
GRAFANA = Path(__file__).resolve().parents[2] / "grafana"


def _queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    found = [("variable plant", v["query"]) for v in dashboard["templating"]["list"]]
    found += [(p["title"], t["rawSql"]) for p in dashboard["panels"] for t in p["targets"]]
    return found


def _expand(sql: str, plant: str, start: datetime, end: datetime) -> str:
    return (sql.replace("$__timeFrom()", f"'{start.isoformat()}'::timestamptz")
               .replace("$__timeTo()", f"'{end.isoformat()}'::timestamptz")
               .replace("$plant", plant))


def test_provisioning_files_parse() -> None:
    source = yaml.safe_load((GRAFANA / "provisioning/datasources/biogas.yaml").read_text())
    assert source["datasources"][0]["uid"] == "biogas-pg"
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/biogas.yaml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_every_panel_query_runs_on_the_projections(database: DatabaseSettings) -> None:
    dashboard = json.loads((GRAFANA / "dashboards/plant.json").read_text())
    start = recent_start(120)
    _, events = plant_events("plant-a", start, 120)
    fill(database, events)
    queries = _queries(dashboard)
    assert len(queries) >= 10
    empty = []
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{database.schema_name}", public')
        for title, sql in queries:
            expanded = _expand(sql, "plant-a", start - timedelta(hours=1),
                               datetime.now(UTC) + timedelta(minutes=1))
            assert "$" not in expanded, (title, expanded)
            rows = conn.execute(expanded.encode()).fetchall()
            if not rows:
                empty.append(title)
    assert not empty, f"panels without data: {empty}"
