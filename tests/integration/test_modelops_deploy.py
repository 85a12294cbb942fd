"""On the real broker: train from the log, promote, deploy; the agents' deployment follower
verifies and installs the model; rollback re-deploys the version live before."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agents.deployments import DeploymentFollower
from agents.models.signing import TrustedKeys, new_key_pair
from agents.pipeline import ModelSlot
from modelops.artifacts import build
from modelops.publish import deploy, previous_version, publish
from modelops.registry import LocalRegistry
from modelops.training_data import TrainingRange, from_log
from streams.events import MessageDeadLettered
from streams.topics import Stream, Topics
from tests.agents_streams import scripted_scans
from tests.integration.conftest import StackEndpoints
from tests.waiting import eventually_async

START = datetime(2026, 3, 1, tzinfo=UTC)


async def test_trained_model_is_deployed_picked_up_and_rolled_back(
        stack: StackEndpoints, topics: Topics, tmp_path: Path) -> None:
    scans = scripted_scans(900, START, plant_id="plant-a")
    other = scripted_scans(50, START, plant_id="plant-b", seed=9)
    await publish(stack.kafka, topics, [*scans, *other])
    done: list[int] = []
    rows = await from_log(stack.kafka, topics,
                          TrainingRange("plant-a", START, START + timedelta(seconds=800)),
                          done.append)
    assert sum(done) == len(scans) + len(other)
    assert rows.shape == (800 * len(scans[0].readings), 6)

    keys = tmp_path / "keys"
    new_key_pair(keys, "release")
    registry = LocalRegistry(tmp_path / "registry")
    for seed in (0, 1):
        candidate = build("iforest", rows, seed=seed)
        registry.promote(registry.add("iforest", candidate.onnx, candidate.metadata),
                         keys / "release.key")

    slot = ModelSlot()
    rejected: list[MessageDeadLettered] = []

    async def reject(event: MessageDeadLettered) -> None:
        rejected.append(event)

    follower = DeploymentFollower(stack.kafka, topics.name(Stream.MODEL_DEPLOYMENTS),
                                  topics[Stream.MODEL_DEPLOYMENTS].partitions,
                                  TrustedKeys.from_directory(keys), slot, reject)
    task = asyncio.create_task(follower.run())
    try:
        await deploy(registry, registry.get("iforest", "1"), None, stack.kafka, topics, "test")

        async def installed(version: str) -> bool:
            det = slot.detectors.get((None, "iforest"))
            return det is not None and det.ref is not None and det.ref.version == version

        await eventually_async(lambda: installed("1"), what="version 1 installed")
        await deploy(registry, registry.get("iforest", "2"), None, stack.kafka, topics, "test")
        await eventually_async(lambda: installed("2"), what="version 2 installed")
        current, previous = previous_version(registry.deployments(), "iforest", None)
        assert (current, previous) == ("2", "1")
        await deploy(registry, registry.get("iforest", previous), None, stack.kafka, topics,
                     "test")
        await eventually_async(lambda: installed("1"), what="rolled back to version 1")
        assert [v for _, v, _ in follower.applied] == ["1", "2", "1"]
        assert rejected == []
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
