"""On the real broker: train from the log, promote, deploy; the agents' deployment follower
verifies and installs the model (a per-reading model, or an envelope or a subspace model
fitted on one stream's scans); rollback re-deploys the version live before. The registry is
a local directory or an S3-compatible bucket (moto's server on loopback), read back by the
agents through ``s3://`` URIs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import numpy as np
import pytest
from pydantic import SecretStr

from agents.detectors.envelope import EnvelopeDetector
from agents.detectors.rules import RuleSpec
from agents.detectors.subspace import SubspaceDetector
from agents.errors import ModelRejectedError
from agents.models.registry import ArtifactFetcher
from agents.models.signing import TrustedKeys
from agents.pipeline import ModelSlot, ScanProcessor
from agents.stream_state import DetectionConfig
from agents.worker.deployments import DeploymentFollower
from modelops.artifacts import build, build_envelope, build_subspace
from modelops.errors import RegistryError, TrainingDataError
from modelops.publish import deploy, previous_version, publish
from modelops.registry import Registry
from modelops.signing import new_key_pair
from modelops.storage import DirectoryStorage, S3Storage
from modelops.training_data import TrainingRange, from_log, stream_matrix, streams_from_log
from stack import s3_server
from streams.events import MessageDeadLettered
from streams.settings import ObjectStoreSettings
from streams.topics import Stream, Topics
from tests.agents_streams import Faults, scripted_scans
from tests.integration.conftest import StackEndpoints
from tests.waiting import eventually_async

START = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def object_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStoreSettings]:
    server = s3_server.start(tmp_path_factory.mktemp("s3") / "moto.log")
    try:
        settings = ObjectStoreSettings(endpoint_url=server.endpoint_url,
                                       access_key_id="test",
                                       secret_access_key=SecretStr("test"))
        yield settings
    finally:
        s3_server.stop(server)


def _registry(kind: str, tmp_path: Path, store: ObjectStoreSettings) -> Registry:
    if kind == "directory":
        return Registry(DirectoryStorage(tmp_path / "registry"))
    bucket = f"models-{tmp_path.name.lower().replace('_', '-')[-40:]}"
    boto3.client("s3", endpoint_url=store.endpoint_url, region_name=store.region,
                 aws_access_key_id="test", aws_secret_access_key="test"
                 ).create_bucket(Bucket=bucket)
    return Registry(S3Storage(f"s3://{bucket}/registry", store))


@pytest.mark.parametrize("kind", ["directory", "s3"])
async def test_trained_model_is_deployed_picked_up_and_rolled_back(
        stack: StackEndpoints, topics: Topics, tmp_path: Path, kind: str,
        object_store: ObjectStoreSettings) -> None:
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
    registry = _registry(kind, tmp_path, object_store)
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
                                  TrustedKeys.from_directory(keys), slot, reject,
                                  ArtifactFetcher(object_store))
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
        uri = registry.get("iforest", "1").uri
        assert uri.startswith("s3://" if kind == "s3" else "file://")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_the_s3_registry_refuses_a_modified_artifact_and_keeps_its_history(
        tmp_path: Path, object_store: ObjectStoreSettings) -> None:
    registry = _registry("s3", tmp_path, object_store)
    rows = np.random.default_rng(3).normal(size=(600, 6))
    entry = registry.add("iforest", build("iforest", rows).onnx, {"kind": "iforest"})
    assert registry.models() == ["iforest"] and registry.versions("iforest") == ["1"]
    assert registry.get("iforest").artifact_bytes() == entry.artifact_bytes()
    fetched = ArtifactFetcher(object_store).fetch(entry.uri)
    assert fetched == entry.artifact_bytes()
    registry.record_deployment({"model_id": "iforest", "version": "1"})
    registry.record_deployment({"model_id": "iforest", "version": "1", "plant_id": "a"})
    assert len(registry.deployments()) == 2

    registry.storage.write(entry.key + "model.onnx", b"tampered")
    with pytest.raises(RegistryError, match="sha256"):
        registry.get("iforest", "1")
    with pytest.raises(ModelRejectedError, match="cannot be read"):
        ArtifactFetcher(object_store).fetch(entry.uri.replace("model.onnx", "missing.onnx"))
    with pytest.raises(ModelRejectedError, match="scheme"):
        ArtifactFetcher().fetch(entry.uri)  # a worker without S3 settings


@pytest.mark.parametrize("kind", ["envelope", "subspace"])
async def test_a_window_model_trained_from_the_log_is_deployed_and_flags_a_step(
        stack: StackEndpoints, topics: Topics, tmp_path: Path, kind: str) -> None:
    scans = scripted_scans(700, START, plant_id="plant-a")
    await publish(stack.kafka, topics, scans)
    streams = await streams_from_log(stack.kafka, topics,
                                     TrainingRange("plant-a", START, START + timedelta(hours=1)))
    assert list(streams) == ["plant-a|plc1|fast"]
    with pytest.raises(TrainingDataError, match=r"no stream 'plc2/fast'.*plc1/fast"):
        stream_matrix(streams, "plc2/fast")
    key, tags, values = stream_matrix(streams, None, ("gas.*", "chp.*"))
    assert key == "plant-a|plc1|fast"
    assert tags == ("chp.p_el", "gas.ch4", "gas.flow_chp", "gas.pressure")
    assert values.shape == (700, 4) and np.isfinite(values).all()
    candidate = build_envelope(tags, values) if kind == "envelope" \
        else build_subspace(tags, values)
    assert candidate.parity.passed and candidate.metadata["features"] == list(tags)
    assert candidate.kind == kind and candidate.metadata["kind"] == kind
    model_id = f"{kind}-gas"

    keys = tmp_path / "keys"
    new_key_pair(keys, "release")
    registry = Registry(DirectoryStorage(tmp_path / "registry"))
    entry = registry.promote(registry.add(model_id, candidate.onnx, candidate.metadata),
                             keys / "release.key")
    slot = ModelSlot()

    async def reject(event: MessageDeadLettered) -> None:
        raise AssertionError(f"rejected: {event.reason}")

    follower = DeploymentFollower(stack.kafka, topics.name(Stream.MODEL_DEPLOYMENTS),
                                  topics[Stream.MODEL_DEPLOYMENTS].partitions,
                                  TrustedKeys.from_directory(keys), slot, reject)
    task = asyncio.create_task(follower.run())
    try:
        await deploy(registry, entry, "plant-a", stack.kafka, topics, "test")

        async def installed() -> bool:
            return ("plant-a", model_id) in slot.detectors

        await eventually_async(installed, what=f"the {kind} model installed")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    model = slot.detectors[("plant-a", model_id)]
    assert isinstance(model, EnvelopeDetector if kind == "envelope" else SubspaceDetector)
    assert model.tags == tags
    # the deployed envelope on the same stream, going on: gas pressure 30 sigmas up for 100 s
    later = scripted_scans(200, START, plant_id="plant-a", first_seq=700,
                           faults=Faults(spike_at=800, spike_len=100))
    processor = ScanProcessor(DetectionConfig(), (RuleSpec(pattern="*", statistical=False,
                                                           stuck_after_s=None,
                                                           max_bad_share=None),),
                              late_after_s=1e12, model=slot)
    flagged = [(s.seq, a) for s in [*scans, *later] for a in processor.process(s).anomalies]
    assert flagged and all(800 <= seq < 915 for seq, _ in flagged)
    first = flagged[0][1]
    assert first.tags == ("gas.pressure",) and first.models
    assert (first.models[0].model_id, first.models[0].version) == (model_id, "1")
    assert first.top_features[0].name == f"gas.pressure:{model_id}.deviation"
