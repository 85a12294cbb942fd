"""The stall watch on the real broker: the offsets it reads, and a worker whose input stops
moving seeks it back, then exits with code 75 for its supervisor to restart it."""

from __future__ import annotations

import json
import os
import signal
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from agents.features.reading import MODEL_FEATURES
from agents.worker.offset_probe import BrokerOffsets, OffsetsUnavailableError
from agents.worker.stall_watch import EXIT_STALLED, Offsets, Partition
from agents.worker.stop_deadline import EXIT_STOP_FORCED
from modelops.signing import new_key_pair, sign_artifact
from stack.processes import free_port
from streams.codec import encode
from streams.events import ModelDeployed
from streams.topics import Topics
from tests.agents_streams import scripted_scans
from tests.integration.agents_harness import Worker, delete_app_topics, produce, worker_env
from tests.integration.conftest import StackEndpoints
from tests.waiting import eventually, eventually_async


async def _first_offsets(probe: BrokerOffsets, partitions: list[Partition]
                         ) -> Mapping[Partition, Offsets]:
    """The offsets, once the broker has a coordinator for the group (a broker that just
    started creates its offsets topic first)."""
    async def read() -> Mapping[Partition, Offsets] | None:
        try:
            return await probe.offsets(partitions)
        except OffsetsUnavailableError:
            return None
    return await eventually_async(read, timeout=60, interval=0.5,
                                  what="the group coordinator answering")


async def test_broker_offsets_reads_committed_first_and_next_offsets(
        stack: StackEndpoints, topics: Topics, unique: str) -> None:
    scans = scripted_scans(12, datetime.now(UTC) - timedelta(seconds=12))
    await produce(stack, topics, scans)  # one plant: one partition of the scans topic
    name = topics.name("scans")
    group = f"g{unique}"
    probe = BrokerOffsets(stack.kafka, group)
    everything = [Partition(name, p) for p in range(topics["scans"].partitions)]
    try:
        seen = await _first_offsets(probe, everything)
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


async def _deploy_a_model_nobody_can_fetch(stack: StackEndpoints, topics: Topics,
                                           tmp_path: Path) -> Path:
    """A signed model whose artifact is a FIFO nobody writes, and 30 scans: a worker waits
    for its models before it scores, so it takes a batch it can never finish. Returns the
    directory of the trusted key."""
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
    return keys


async def test_a_worker_whose_input_stalls_seeks_then_exits_for_a_restart(
        stack: StackEndpoints, topics: Topics, unique: str, tmp_path: Path) -> None:
    # The deployed model's artifact sits on a store that never answers (a FIFO nobody
    # writes): the worker waits for its models before it scores, so the scans stay unread.
    keys = await _deploy_a_model_nobody_can_fetch(stack, topics, tmp_path)
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


async def _append_in_transactions(stack: StackEndpoints, topic: str, key: bytes,
                                  values: list[bytes]) -> None:
    """Each value in a transaction of its own, as the API appends commands: every commit
    leaves a marker that takes an offset but is never delivered."""
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap_servers,
                                transactional_id=f"tx-{uuid.uuid4()}")
    await producer.start()
    try:
        for value in values:
            async with producer.transaction():
                await producer.send(topic, value, key=key)
    finally:
        await producer.stop()


async def test_only_transaction_markers_beyond_the_committed_offset_are_nothing_to_read(
        stack: StackEndpoints, topics: Topics, unique: str) -> None:
    name = topics.name("scans")
    key = b"plant-tx"
    await _append_in_transactions(stack, name, key, [b"a", b"b", b"c"])
    probe = BrokerOffsets(stack.kafka, f"g{unique}")
    try:
        everything = [Partition(name, p) for p in range(topics["scans"].partitions)]
        seen = await _first_offsets(probe, everything)
        (busy,) = [p for p in everything if seen[p].end > 0]
        end = seen[busy].end
        assert end == 6  # three records at 0, 2, 4, each followed by its commit marker
        # a group that read all three commits 5: behind 1 by the offsets, nothing to read
        assert not await probe.consumable(busy, 5, end)
        assert await probe.consumable(busy, 4, end)
        assert await probe.consumable(busy, 0, end)
        assert not await probe.consumable(busy, end, end)
        await _append_in_transactions(stack, name, key, [b"d"])
        later = (await probe.offsets([busy]))[busy].end
        assert later == 8 and await probe.consumable(busy, 5, later)
    finally:
        await probe.stop()


async def test_a_worker_fed_in_transactions_is_never_stalled(
        stack: StackEndpoints, topics: Topics, unique: str, tmp_path: Path) -> None:
    scans = scripted_scans(6, datetime.now(UTC) - timedelta(seconds=6), boot_id=uuid.uuid4())
    env = worker_env(stack, topics, f"agents-{unique}", tmp_path / "data", stall_after_s="5",
                     session_timeout_s="6")
    worker = Worker(env, tmp_path / "worker.log").start()
    try:
        assert worker.proc is not None
        proc = worker.proc
        await _append_in_transactions(stack, topics.name("scans"), topics.key_for(scans[0]),
                                      [encode(s) for s in scans])
        # the group commits the offset after the last scan; the log ends one marker later:
        # the watch looks past it, again and again, where it used to seek and then exit
        eventually(lambda: worker.log().count('"stall_watch_markers_only"') >= 3
                   or proc.poll() is not None, timeout=120, interval=0.2,
                   what="the stall watch looking past the commit markers three times")
        assert proc.poll() is None, worker.log()[-3000:]
        assert '"agents_input_stalled' not in worker.log()
    finally:
        worker.stop()
        await delete_app_topics(stack, f"agents-{unique}")


def _health(port: int) -> tuple[int, dict[str, Any]] | None:
    """The worker's /health: status code and report (None: no answer yet)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:  # 503 while starting
        return exc.code, json.loads(exc.read())
    except (urllib.error.URLError, OSError):
        return None


def _metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
        return str(resp.read().decode())


async def test_sigterm_stops_a_worker_stuck_on_a_store_that_never_answers(
        stack: StackEndpoints, topics: Topics, unique: str, tmp_path: Path) -> None:
    # the same stuck worker as above: once its agent holds a batch it cannot finish (the
    # stall watch says so), a graceful stop would wait for that agent
    keys = await _deploy_a_model_nobody_can_fetch(stack, topics, tmp_path)
    port = free_port()
    env = worker_env(stack, topics, f"agents-{unique}", tmp_path / "data",
                     trusted_keys_dir=str(keys), stall_after_s="8", stop_timeout_s="3",
                     metrics_port=str(port))
    worker = Worker(env, tmp_path / "worker.log").start()
    try:
        assert worker.proc is not None
        proc = worker.proc
        eventually(lambda: _health(port) is not None, timeout=60, interval=0.1,
                   what="the worker's /health")
        eventually(lambda: '"agents_input_stalled_seeking"' in worker.log(), timeout=60,
                   interval=0.1, what="the stuck worker's stall watch seeking")
        # until it moves again (or the worker exits), the worker says it is degraded, where
        code, report = _health(port) or (0, {})
        scans = f"{topics.name('scans')}:"
        assert code == 200 and report["status"] == "degraded", report
        (stalled,) = report["stalled"]
        assert stalled.startswith(scans) and report["input_lag"][stalled] == 30
        assert report["stall_seeks"] == 1 and report["counts"]["scans"] == 0
        metrics = _metrics(port)
        assert "agents_stall_seeks_total 1.0" in metrics
        topic, partition = stalled.rsplit(":", 1)
        assert f'agents_input_stalled{{partition="{partition}",topic="{topic}"}} 1.0' in metrics
        proc.send_signal(signal.SIGTERM)
        eventually(lambda: proc.poll() is not None, timeout=20, interval=0.1,
                   what="the worker's exit after SIGTERM")
        log = worker.log()
        if proc.returncode != 0:  # graceful stops end 0; a forced one says why
            assert proc.returncode == EXIT_STOP_FORCED, log[-3000:]
            assert '"agents_stop_forced"' in log and '"after_s": 3.0' in log
    finally:
        worker.stop()
        await delete_app_topics(stack, f"agents-{unique}")
