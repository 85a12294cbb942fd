"""Model hot swap on the real broker: a signed model takes effect without a restart; a tampered
one is refused, logged and published, and the model in use stays."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agents.features.reading import MODEL_FEATURES
from modelops.export.iforest import export_iforest, train_iforest
from modelops.signing import new_key_pair, sign_artifact
from streams.events import AnomalyDetected, MessageDeadLettered, ModelDeployed
from streams.topics import Topics
from tests.agents_streams import Faults, scripted_scans, training_rows
from tests.integration.agents_harness import (
    Collector,
    Worker,
    delete_app_topics,
    produce,
    worker_env,
)
from tests.integration.conftest import StackEndpoints
from tests.waiting import eventually


def model_bytes(seed: int) -> bytes:
    rows = training_rows(scripted_scans(1500, datetime(2026, 1, 1, tzinfo=UTC), seed=seed))
    return export_iforest(train_iforest(rows, n_estimators=60, seed=seed))


def logged(worker: Worker, event: str) -> list[dict[str, object]]:
    found = []
    for line in worker.log().splitlines():
        start = line.find("{")  # skip terminal escapes the worker's console may print
        if start >= 0 and f'"{event}"' in line:
            record = json.loads(line[start:])
            if record.get("event") == event:
                found.append(record)
    return found


def spikes_scored_by(c: Collector, version: str) -> list[AnomalyDetected]:
    return [a for a in c.of(AnomalyDetected)
            if "gas.pressure" in a.tags and any(m.version == version for m in a.models)]


async def test_signed_model_swaps_in_and_tampered_model_is_refused(
        stack: StackEndpoints, topics: Topics, unique: str, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    key = new_key_pair(keys, "release")

    def deployment(version: str, data: bytes, *, tamper: bool = False) -> ModelDeployed:
        path = tmp_path / f"iforest-{version}.onnx"
        signed = sign_artifact(data, key, "release")
        path.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]) if tamper else data)
        return ModelDeployed(model_id="iforest", version=version, plant_id=None,
                             sha256=signed.sha256, artifact_uri=path.as_uri(),
                             signature=signed.signature, key_id="release",
                             features=MODEL_FEATURES, deployed_by="test",
                             deployed_at=datetime.now(UTC))

    await produce(stack, topics, [deployment("1", model_bytes(5))])
    env = worker_env(stack, topics, f"agents-{unique}", tmp_path / "data",
                     warmup_samples="200", statistical="true", late_after_s="1000000",
                     threshold_margin="0.15",
                     trusted_keys_dir=str(keys), batch_within_s="0.05")
    worker = Worker(env, tmp_path / "worker.log").start()
    boot = uuid.uuid4()
    start = datetime.now(UTC) - timedelta(seconds=1400)
    try:
        async with Collector(stack, topics, ["anomalies", "deadletter"]) as c:
            await produce(stack, topics, scripted_scans(
                1000, start, seed=9, boot_id=boot, faults=Faults(spike_at=700, spike_len=20)))
            await c.wait_for(lambda c: bool(spikes_scored_by(c, "1")), worker,
                             what="the spike scored by model version 1")

            await produce(stack, topics, [deployment("2", model_bytes(6), tamper=True)])
            await c.wait_for(lambda c: bool(c.of(MessageDeadLettered)), worker,
                             what="the tampered model refused")
            (letter,) = c.of(MessageDeadLettered)
            assert letter.source_topic == topics.name("model-deployments")
            assert "model rejected" in letter.reason and "sha256" in letter.reason
            assert logged(worker, "model_rejected")

            await produce(stack, topics, [deployment("3", model_bytes(7))])
            eventually(lambda: any(r.get("version") == "3"
                                   for r in logged(worker, "model_swapped")),
                       what="model version 3 swapped in")
            await produce(stack, topics, scripted_scans(
                400, start, seed=9, boot_id=boot, first_seq=1000,
                faults=Faults(spike_at=1300, spike_len=20)))
            await c.wait_for(lambda c: bool(spikes_scored_by(c, "3")), worker,
                             what="the next spike scored by model version 3")
            versions = [r.get("version") for r in logged(worker, "model_swapped")]
            assert versions == ["1", "3"]
            assert worker.proc is not None and worker.proc.poll() is None  # never restarted
            assert not spikes_scored_by(c, "2")
    finally:
        worker.stop()
        await delete_app_topics(stack, f"agents-{unique}")
