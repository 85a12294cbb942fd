"""The stall watch on the real broker: the offsets it reads, and a worker whose input stops
moving seeks it back, then exits with code 75 for its supervisor to restart it."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from agents.features.reading import MODEL_FEATURES
from agents.models.signing import new_key_pair, sign_artifact
from agents.offset_probe import BrokerOffsets
from agents.stall_watch import EXIT_STALLED, Offsets, Partition
from streams.events import ModelDeployed
from streams.topics import Topics
from tests.agents_streams import scripted_scans
from tests.integration.agents_harness import Worker, delete_app_topics, produce, worker_env
from tests.integration.conftest import StackEndpoints
from tests.waiting import eventually


async def test_broker_offsets_reads_committed_first_and_next_offsets(
        stack: StackEndpoints, topics: Topics, unique: str) -> None:
    scans = scripted_scans(12, datetime.now(UTC) - timedelta(seconds=12))
    await produce(stack, topics, scans)  # one plant: one partition of the scans topic
    name = topics.name("scans")
    group = f"g{unique}"
    probe = BrokerOffsets(stack.kafka, group)
    everything = [Partition(name, p) for p in range(topics["scans"].partitions)]
    try:
        seen = await probe.offsets(everything)
        (busy,) = [p for p in everything if seen[p].end > 0]
        assert seen[busy] == Offsets(committed=-1, start=0, end=12)
        assert all(seen[p] == Offsets(-1, 0, 0) for p in everything if p != busy)
        consumer = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap_servers, group_id=group,
                                    enable_auto_commit=False)
        await consumer.start()
        try:
            tp = TopicPartition(name, busy.partition)
            consumer.assign([tp])
            await consumer.commit({tp: OffsetAndMetadata(5, "")})
        finally:
            await consumer.stop()
        again = await probe.offsets([busy])
        assert again == {busy: Offsets(committed=5, start=0, end=12)}
        assert again[busy].behind == 7
        assert await probe.offsets([]) == {}
    finally:
        await probe.stop()


async def test_a_worker_whose_input_stalls_seeks_then_exits_for_a_restart(
        stack: StackEndpoints, topics: Topics, unique: str, tmp_path: Path) -> None:
    # The deployed model's artifact sits on a store that never answers (a FIFO nobody
    # writes): the worker waits for its models before it scores, so the scans stay unread.
    keys = tmp_path / "keys"
    key = new_key_pair(keys, "release")
    artifact = tmp_path / "model.onnx"
    os.mkfifo(artifact)
    signed = sign_artifact(b"never read", key, "release")
    await produce(stack, topics, [ModelDeployed(
        model_id="iforest", version="1", plant_id=None, sha256=signed.sha256,
        artifact_uri=artifact.as_uri(), signature=signed.signature, key_id="release",
        features=MODEL_FEATURES, deployed_by="test", deployed_at=datetime.now(UTC))])
    await produce(stack, topics, scripted_scans(
        30, datetime.now(UTC) - timedelta(seconds=30), boot_id=uuid.uuid4()))
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps([{"pattern": "*", "stuck_after_s": 120}]))
    env = worker_env(stack, topics, f"agents-{unique}", tmp_path / "data",
                     trusted_keys_dir=str(keys), rules_file=str(rules), stall_after_s="5",
                     session_timeout_s="6")
    worker = Worker(env, tmp_path / "worker.log").start()
    try:
        assert worker.proc is not None
        proc = worker.proc
        eventually(lambda: proc.poll() is not None, timeout=120, interval=0.2,
                   what="the stalled worker's exit")
        log = worker.log()
        assert proc.returncode == EXIT_STALLED, log[-3000:]
        events = [json.loads(line[line.find("{"):]) for line in log.splitlines()
                  if '"agents_input_stalled' in line]
        scans = f"{topics.name('scans')}:"
        seek, stalled = events
        assert seek["event"] == "agents_input_stalled_seeking"
        assert seek["partition"].startswith(scans) and seek["behind"] == 30
        assert seek["committed"] == -1 and seek["seek_to"] == 0 and seek["still_for_s"] >= 5
        assert stalled["event"] == "agents_input_stalled"
        assert stalled["partition"] == seek["partition"] and stalled["exit_code"] == 75
        # where the worker stood, for whoever reads the log
        assert "--- consumer partitions ---" in log and "create_app.<locals>.detect" in log
    finally:
        worker.stop()
        await delete_app_topics(stack, f"agents-{unique}")
