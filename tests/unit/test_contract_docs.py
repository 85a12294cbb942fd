"""The generated contract documents: the JSON-schema snapshot and the AsyncAPI document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from cli.contract_cmd import ASYNCAPI_PATH, SCHEMA_SNAPSHOT_PATH, contract_app
from streams.asyncapi import asyncapi_document
from streams.codec import encode
from streams.events import EVENT_TYPES, ScanRecorded
from streams.schema_snapshot import events_json_schema, render_document
from streams.topics import Topics
from tests.examples import example_events, scan

REGENERATE_SCHEMA = "biogas contract schema --write"
REGENERATE_ASYNCAPI = "biogas contract asyncapi --write"


def _committed(path: Path, command: str) -> str:
    assert path.exists(), f"{path} is missing; generate it with: {command}"
    return path.read_text(encoding="utf-8")


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        assert isinstance(node, dict) and part in node, f"unresolvable $ref {ref}"
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def test_schema_snapshot_is_up_to_date() -> None:
    committed = _committed(SCHEMA_SNAPSHOT_PATH, REGENERATE_SCHEMA)
    assert committed == render_document(events_json_schema()), (
        f"the event models changed: review the diff and regenerate "
        f"{SCHEMA_SNAPSHOT_PATH.name} with: {REGENERATE_SCHEMA}"
    )


def test_asyncapi_document_is_up_to_date() -> None:
    committed = _committed(ASYNCAPI_PATH, REGENERATE_ASYNCAPI)
    assert committed == render_document(asyncapi_document()), (
        f"docs/asyncapi.json is out of date; regenerate it with: {REGENERATE_ASYNCAPI}"
    )


def test_every_example_validates_against_the_schema_snapshot() -> None:
    schema = json.loads(_committed(SCHEMA_SNAPSHOT_PATH, REGENERATE_SCHEMA))
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    for event in example_events():
        errors = [e.message for e in validator.iter_errors(orjson.loads(encode(event)))]
        assert errors == [], event.event_type


def test_schema_snapshot_rejects_what_the_models_reject() -> None:
    validator = Draft202012Validator(events_json_schema())
    raw = orjson.loads(encode(scan()))
    assert validator.is_valid(raw)
    assert not validator.is_valid({**raw, "colour": "red"})
    assert not validator.is_valid({**raw, "event_type": "unknown"})
    assert not validator.is_valid({k: v for k, v in raw.items() if k != "event_id"})


def test_schema_snapshot_requires_the_envelope() -> None:
    defs = events_json_schema()["$defs"]
    for model in EVENT_TYPES.values():
        required = defs[model.__name__]["required"]
        assert required[:3] == ["event_type", "schema_version", "event_id"], model.__name__


def test_asyncapi_structure() -> None:
    doc = asyncapi_document()
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"] and doc["info"]["version"]
    addresses = {channel["address"] for channel in doc["channels"].values()}
    assert addresses == set(Topics().names())
    names = {message["name"] for message in doc["components"]["messages"].values()}
    assert names == set(EVENT_TYPES)


def test_asyncapi_every_ref_resolves() -> None:
    doc = asyncapi_document()
    refs = _refs(doc)
    assert len(refs) > len(EVENT_TYPES)
    for ref in refs:
        _resolve(doc, ref)


def test_asyncapi_channels_carry_the_topic_config_and_messages() -> None:
    doc = asyncapi_document()
    for spec in Topics():
        channel = doc["channels"][spec.stream.value]
        kafka = channel["bindings"]["kafka"]
        assert kafka["topic"] == spec.name
        assert kafka["partitions"] == spec.partitions
        assert kafka["topicConfiguration"]["cleanup.policy"] == [spec.config["cleanup.policy"]]
        messages = [_resolve(doc, m["$ref"]) for m in channel["messages"].values()]
        assert {m["name"] for m in messages} == spec.event_types
        for message in messages:
            assert message["bindings"]["kafka"]["key"]["type"] == "string"
            assert message["payload"]["$ref"].startswith("#/components/schemas/")


def test_asyncapi_has_send_and_receive_for_every_channel() -> None:
    doc = asyncapi_document()
    seen: dict[str, set[str]] = {}
    for operation in doc["operations"].values():
        channel_ref = operation["channel"]["$ref"]
        _resolve(doc, channel_ref)
        seen.setdefault(channel_ref, set()).add(operation["action"])
        for message in operation["messages"]:
            assert message["$ref"].startswith(channel_ref + "/messages/")
    assert seen == {f"#/channels/{c}": {"send", "receive"} for c in doc["channels"]}


def test_asyncapi_payload_schemas_accept_the_examples() -> None:
    doc = asyncapi_document()
    for event in example_events():
        name = type(event).__name__
        validator = Draft202012Validator({**doc, "$ref": f"#/components/schemas/{name}"})
        raw = orjson.loads(encode(event))
        assert list(validator.iter_errors(raw)) == [], name
        assert not validator.is_valid({**raw, "unexpected": 1}), name


def test_asyncapi_document_follows_a_prefixed_catalogue() -> None:
    doc = asyncapi_document(Topics(prefix="t9."))
    assert doc["channels"]["scans"]["address"] == "t9.plant.scans.v1"


def test_render_is_sorted_indented_and_ends_with_newline() -> None:
    text = render_document({"b": 1, "a": {"d": 2, "c": 3}})
    assert text == '{\n  "a": {\n    "c": 3,\n    "d": 2\n  },\n  "b": 1\n}\n'


@pytest.mark.parametrize(
    ("command", "generate"),
    [
        ("schema", lambda: render_document(events_json_schema())),
        ("asyncapi", lambda: render_document(asyncapi_document())),
    ],
)
def test_cli_write_then_check(command: str, generate: Any, tmp_path: Path) -> None:
    target = tmp_path / "out" / "doc.json"
    runner = CliRunner()
    result = runner.invoke(contract_app, [command, "--check", "--path", str(target)])
    assert result.exit_code == 1
    assert "is missing" in result.stderr
    result = runner.invoke(contract_app, [command, "--write", "--path", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8") == generate()
    result = runner.invoke(contract_app, [command, "--check", "--path", str(target)])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.stdout


@pytest.mark.parametrize("command", ["schema", "asyncapi"])
def test_cli_check_names_the_file_and_the_command_when_stale(
    command: str, tmp_path: Path
) -> None:
    target = tmp_path / "doc.json"
    target.write_text("{}\n", encoding="utf-8")
    result = CliRunner().invoke(contract_app, [command, "--check", "--path", str(target)])
    assert result.exit_code == 1
    assert str(target) in result.stderr
    assert "out of date" in result.stderr
    assert f"biogas contract {command} --write" in result.stderr


def test_cli_prints_the_document_by_default() -> None:
    result = CliRunner().invoke(contract_app, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["title"] == "Event"


def test_cli_refuses_write_and_check_together(tmp_path: Path) -> None:
    args = ["asyncapi", "--write", "--check", "--path", str(tmp_path / "x.json")]
    result = CliRunner().invoke(contract_app, args)
    assert result.exit_code == 2
    assert "at most one" in result.stderr
    assert not (tmp_path / "x.json").exists()


def test_scan_schema_documents_reading_value_types() -> None:
    reading = events_json_schema()["$defs"]["Reading"]["properties"]["value"]
    types = {option["type"] for option in reading["anyOf"]}
    assert types == {"number", "integer", "boolean", "string", "null"}
    assert ScanRecorded.model_json_schema()["properties"]["readings"]["minItems"] == 1
