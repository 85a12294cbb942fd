"""``biogas models`` end to end on the real broker: train from the log, promote, deploy,
compare a candidate with the live version offline, roll back, run a candidate in shadow and
end it, report shadow comparisons; an envelope and a subspace model train on one stream."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer
from typer.testing import CliRunner

from agents.models.signing import TrustedKeys
from agents.pipeline import ModelSlot
from agents.worker.deployments import DeploymentFollower
from cli.models_cmd import models_app
from modelops.publish import publish
from modelops.signing import new_key_pair
from streams.codec import decode
from streams.events import MessageDeadLettered, ModelDeployed, ModelShadowCompared
from streams.logsetup import configure_logging
from streams.settings import LogSettings
from streams.topics import Stream, Topics
from tests.agents_streams import scripted_scans
from tests.examples import example_of
from tests.integration.conftest import StackEndpoints

START = datetime(2026, 3, 1, tzinfo=UTC)
RANGE = ["--plant", "plant-a", "--since", "2026-03-01T00:00:00Z",
         "--until", "2026-03-01T01:00:00Z", "--source", "log"]


def run(env: dict[str, str], *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(models_app, list(args), env=env)
    text = " ".join(result.output.split())
    assert result.exit_code == code, f"{args}: exit {result.exit_code}: {text}"
    return text


async def deployments(stack: StackEndpoints, topics: Topics) -> list[ModelDeployed]:
    consumer = AIOKafkaConsumer(topics.name(Stream.MODEL_DEPLOYMENTS),
                                bootstrap_servers=stack.bootstrap_servers,
                                auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=2000)
        found = [decode(r.value) for records in batches.values() for r in records if r.value]
    finally:
        await consumer.stop()
    return [e for e in found if isinstance(e, ModelDeployed)]


async def follow(stack: StackEndpoints, topics: Topics, keys: Path) -> ModelSlot:
    """The models a worker starting now would load (live and shadow)."""
    configure_logging(LogSettings())  # not to the output of the last command run
    slot = ModelSlot()

    async def reject(letter: MessageDeadLettered) -> None:
        raise AssertionError(letter.reason)

    follower = DeploymentFollower(stack.kafka, topics.name(Stream.MODEL_DEPLOYMENTS),
                                  topics[Stream.MODEL_DEPLOYMENTS].partitions,
                                  TrustedKeys.from_directory(keys), slot, reject)
    task = asyncio.create_task(follower.run())
    try:
        await asyncio.wait_for(follower.ready.wait(), timeout=30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return slot


def test_train_promote_deploy_shadow_and_roll_back(stack: StackEndpoints, topics: Topics,
                                                  tmp_path: Path) -> None:
    asyncio.run(publish(stack.kafka, topics, scripted_scans(900, START, plant_id="plant-a")))
    new_key_pair(tmp_path / "keys", "release")
    env = {"BIOGAS_KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
           "BIOGAS_TOPIC_PREFIX": topics.prefix,
           "BIOGAS_MODELS_REGISTRY_DIR": str(tmp_path / "registry"),
           "BIOGAS_MODELS_SIGNING_KEY": str(tmp_path / "keys" / "release.key"),
           "COLUMNS": "250"}  # tables on one line per row

    for seed in ("0", "1"):
        out = run(env, "train", *RANGE, "--model", "iforest", "--seed", seed)
        assert "iforest version" in out and "parity passed" in out
    for version in ("1", "2"):
        assert f"iforest version {version} promoted" in run(env, "promote", "iforest",
                                                            "--version", version)
    # trained on plant-a, it applies to plant-a unless deployed wider on purpose
    assert "--all-plants" in run(env, "deploy", "iforest", "--version", "1", "--plant", "x",
                                 "--all-plants", code=2)
    run(env, "deploy", "iforest", "--version", "1", "--all-plants")
    out = run(env, "shadow", "iforest", "--candidate", "2", *RANGE)
    assert "live 1 vs candidate 2" in out and "decisions differ on" in out
    run(env, "deploy", "iforest", "--version", "2", "--all-plants")
    assert "2 -> 1" in run(env, "rollback", "iforest")
    events = asyncio.run(deployments(stack, topics))
    assert [(e.model_id, e.version) for e in events] == [("iforest", "1"), ("iforest", "2"),
                                                         ("iforest", "1")]

    # version 2 in shadow beside the live version 1: the detectors load it apart, never
    # voting; a rollback ignores shadows; shadow-stop ends it
    assert "version 2 in shadow" in run(env, "deploy", "iforest", "--version", "2", "--shadow",
                                        "--all-plants")
    slot = asyncio.run(follow(stack, topics, tmp_path / "keys"))
    live, shadow = slot.detectors[(None, "iforest")], slot.shadows[(None, "iforest")]
    assert (live.ref and live.ref.version, shadow.ref and shadow.ref.version) == ("1", "2")
    assert "1 -> 2" in run(env, "rollback", "iforest")  # live history only: 1, 2, 1
    assert "ended the shadow of iforest version 2" in run(env, "shadow-stop", "iforest")
    slot = asyncio.run(follow(stack, topics, tmp_path / "keys"))
    live = slot.detectors[(None, "iforest")]
    assert not slot.shadows and live.ref is not None and live.ref.version == "2"
    assert "no shadow running" in run(env, "shadow-stop", "iforest", code=2)

    assert "no shadow comparisons" in run(env, "shadow-report")
    compared = example_of(ModelShadowCompared)
    asyncio.run(publish(stack.kafka, topics, [compared, compared.model_copy(update={
        "event_id": uuid.uuid4(), "window_start": compared.window_end,
        "window_end": compared.window_end + timedelta(hours=1)})]))
    out = run(env, "shadow-report", "digester-iforest", "--windows")
    assert "shadow comparisons (2 windows)" in out
    # totals: 360000 readings, 24 live and 18 candidate alarms, 16 both, 8 only live
    cells = " ".join(out.replace("│", " ").split())
    assert "360000 24 18 16 8 2 gas.ch4 (6), dig1.temp (4)" in cells
    assert "no shadow comparisons" in run(env, "shadow-report", "--plant", "elsewhere")

    out = run(env, "train", *RANGE, "--model", "envelope", "--tag", "gas.*",
              "--model-id", "envelope-gas")
    assert "envelope-gas version 1 (envelope): 900 scans of plant-a|plc1|fast, 3 tags" in out
    meta = orjson.loads((tmp_path / "registry" / "envelope-gas" / "1" / "metadata.json")
                        .read_bytes())
    assert meta["features"] == ["gas.ch4", "gas.flow_chp", "gas.pressure"]
    assert meta["metrics"]["parity"]["passed"] is True
    run(env, "promote", "envelope-gas")
    assert "to plant-a" in run(env, "deploy", "envelope-gas")  # the plant it was trained on
    refused = run(env, "shadow", "envelope-gas", "--candidate", "1", *RANGE, code=2)
    assert "envelope model" in refused
    out = run(env, "train", *RANGE, "--model", "subspace", "--tag", "gas.*")
    assert "subspace version 1 (subspace): 900 scans of plant-a|plc1|fast, 3 tags" in out
    meta = orjson.loads((tmp_path / "registry" / "subspace" / "1" / "metadata.json")
                        .read_bytes())
    assert meta["kind"] == "subspace" and meta["metrics"]["parity"]["passed"] is True
    assert "subspace model" in run(env, "shadow", "subspace", "--candidate", "1", "--live",
                                   "1", *RANGE, code=2)
    assert "use --source log" in run(env, "train", *RANGE, "--model", "subspace",
                                     "--source", "projections", code=2)
    assert "--stream" in run(env, "train", *RANGE, "--model", "envelope", "--stream",
                             "plc9/slow", code=2)
    assert "names one model" in run(env, "train", *RANGE, "--model-id", "x", code=2)
    assert "use letters, digits" in run(env, "train", *RANGE, "--model", "iforest",
                                        "--model-id", "../x", code=2)
