"""Commands that report give ``--json`` for scripts: one document, the same facts."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cli.models_cmd import models_app
from cli.stack_cmd import stack_app
from cli.topics_cmd import topics_app
from streams.topics import Topics


def test_topics_list_as_json_is_the_catalogue() -> None:
    result = CliRunner().invoke(topics_app, ["list", "--prefix", "x.", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    catalogue = Topics(prefix="x.")
    assert [t["name"] for t in listed] == list(catalogue.names())
    scans = next(t for t in listed if t["stream"] == "scans")
    assert (scans["partitions"], scans["key"], scans["event_types"]) == (
        catalogue["scans"].partitions, "plant_id", ["scan_recorded"])


def test_stack_status_as_json_says_what_runs_and_keeps_its_exit_code(tmp_path: Path) -> None:
    result = CliRunner().invoke(stack_app, ["status", "--json"],
                                env={"BIOGAS_STACK_DIR": str(tmp_path),
                                     "BIOGAS_KAFKA_BOOTSTRAP_SERVERS": "",
                                     "BIOGAS_DATABASE_URL": ""})
    assert result.exit_code == 1, result.output  # nothing of this stack runs
    body = json.loads(result.stdout)
    assert body["state_dir"] == str(tmp_path)
    assert {c["name"]: c["running"] for c in body["components"]} == {
        "kafka": False, "postgres": False}


def test_models_list_as_json(tmp_path: Path) -> None:
    result = CliRunner().invoke(models_app, ["list", "--json"],
                                env={"BIOGAS_MODELS_REGISTRY_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []
