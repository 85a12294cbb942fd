"""The Faust app of the stream agents, built by :func:`create_app` (nothing at import time).

Agents (consumer group = the app id):

* ``detect``: ``plant.scans.v1`` in batches -> ``plant.features.v1``, ``plant.anomalies.v1``;
  undecodable messages -> ``plant.deadletter.v1``.
* ``lab``: ``plant.lab-results.v1`` -> FOS/TAC trend in the plant features.
* ``alerts``: ``plant.anomalies.v1`` and ``plant.alert-commands.v1`` -> ``plant.alerts.v1``;
  a timer clears quiet alerts.
* a task follows ``plant.model-deployments.v1`` from the beginning and hot-swaps models.

State lives in two Faust tables kept in memory and recovered from their changelog topics
(``<app id>-stream-state-changelog``, ``<app id>-alert-state-changelog``) when the worker starts.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Iterable
from typing import Any, cast

from aiokafka.errors import KafkaError
from faust.streams import Stream
from faust.tables.manager import TableManager
from faust.types import TP, EventT, StreamT, TableT

from agents import state_chunks
from agents.alert_worker import AlertWorker
from agents.deadletter import Position
from agents.detect_worker import DetectWorker, Message, Publish
from agents.detectors.rules import load_rules
from agents.models.registry import ArtifactFetcher
from agents.models.signing import TrustedKeys
from agents.pipeline import ModelSlot, ScanProcessor
from agents.settings import AgentsSettings
from agents.worker import task_dump
from agents.worker.catalogue_follower import CatalogueFollower
from agents.worker.deployments import DeploymentFollower
from agents.worker.failure_exit import exit_on_failure
from agents.worker.faust_consumer import AgentsApp, HeldEvents
from agents.worker.health import WorkerHealth
from agents.worker.offset_probe import BrokerOffsets, OffsetsUnavailableError
from agents.worker.output_producer import OutputProducer
from agents.worker.stall_exit import exit_for_restart
from agents.worker.stall_watch import Partition, StallWatch
from ops.endpoints import HealthServer
from streams.codec import encode
from streams.events import MessageDeadLettered
from streams.logsetup import get_logger
from streams.topics import Topics

log = get_logger("agents.worker.app")
FETCH_BYTES = 8 << 20


class TableStore:
    """A Faust table of bytes by string key, recovered by Faust from its changelog on start.

    Writes go to the changelog partition given through the agents' own producer, and
    :meth:`save` returns the broker's acknowledgement: Faust's ``send_changelog`` queues the
    record in a buffer that its offset commit does not wait for (its flush gives up after
    0.1 s), so under load offsets could be committed before the state that goes with them
    was on the log, and a crash then lost that state."""

    def __init__(self, table: TableT[bytes, bytes], publish: Publish) -> None:
        self.table, self.publish = table, publish
        self._topic: str | None = None

    def _get(self, key: str) -> bytes | None:
        value = self.table.data.get(key.encode())
        return None if value is None else bytes(value)

    def load(self, key: str) -> bytes | None:
        """The snapshot under ``key`` (joined from its parts when it was written in parts,
        :mod:`agents.state_chunks`); :class:`StateError` when its parts do not add up."""
        value = self._get(key)
        if state_chunks.manifest_of(value) is None:
            return value
        assert value is not None
        return state_chunks.join(key, value, self._get)

    async def _put(self, key: str, partition: int, data: bytes | None) -> Awaitable[object]:
        raw_key = key.encode()
        if data is None:
            self.table.data.pop(raw_key, None)
        else:
            self.table.data[raw_key] = data
        if self._topic is None:
            self._topic = self.table.changelog_topic.get_topic_name()
        return await self.publish(self._topic, raw_key, data, partition=partition)

    async def save(self, key: str, partition: int, data: bytes) -> Awaitable[object]:
        """Write ``data`` under ``key``: whole, or in parts of at most
        :data:`~agents.state_chunks.CHUNK_BYTES` then a manifest, then tombstones for the
        parts of the snapshot it replaces. The result is done when the broker has them all."""
        before = state_chunks.manifest_of(self._get(key))
        generation = 0 if before is None else before[0] + 1
        acks = []
        if len(data) <= state_chunks.CHUNK_BYTES:
            acks.append(await self._put(key, partition, data))
        else:
            parts, manifest = state_chunks.split(key, data, generation)
            for part, chunk in parts:
                acks.append(await self._put(part, partition, chunk))
            acks.append(await self._put(key, partition, manifest))
        if before is not None:
            for i in range(before[1]):
                acks.append(await self._put(state_chunks.part_key(key, before[0], i),
                                            partition, None))
        return asyncio.gather(*acks)

    def keys(self) -> Iterable[str]:
        return [k for raw in list(self.table.data.keys())
                if not state_chunks.is_part(k := bytes(raw).decode())]


def _message(event: EventT[Any]) -> Message:
    msg = event.message
    return Message(Position(msg.topic, msg.partition, msg.offset),
                   None if msg.key is None else bytes(msg.key),
                   None if msg.value is None else bytes(msg.value))


def stall_check_interval(settings: AgentsSettings) -> float:
    """How often the inputs' offsets are read: a quarter of the stall time, at most 10 s."""
    return max(1.0, min(10.0, settings.stall_after_s / 4))


def create_app(settings: AgentsSettings) -> AgentsApp:
    """The worker's Faust app with its agents, tables, timers (alerts to clear, inputs to
    watch for stalls, see :mod:`agents.worker.stall_watch`) and deployment follower."""
    topics = Topics(prefix=settings.topic_prefix)
    servers = settings.kafka.bootstrap_servers.split(",")
    app = AgentsApp(
        settings.app_id, broker=[f"kafka://{s}" for s in servers], store="memory://",
        topic_replication_factor=1, web_enabled=False, producer_acks=-1,
        consumer_auto_offset_reset="earliest", datadir=str(settings.data_dir),
        table_standby_replicas=0, broker_commit_interval=1.0,
        producer_linger=settings.producer_linger_s,
        # a fetch brings a few batches of scans (~3 KB each for 50 readings; aiokafka caps a
        # whole fetch at 50 MB): with 1 MB the next batch waited for fetch round trips
        consumer_max_fetch_size=FETCH_BYTES,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 3))
    faust_topics = {spec.name: app.topic(spec.name, partitions=spec.partitions,
                                         key_serializer="raw", value_serializer="raw")
                    for spec in topics}

    outputs = OutputProducer(settings.kafka, linger_s=settings.producer_linger_s,
                             client_id=f"{settings.kafka.client_id}-agents")
    publish = outputs.publish

    async def reject(letter: MessageDeadLettered) -> object:
        return await publish(topics.name("deadletter"), topics.key_for(letter), encode(letter))

    # bytes keys and values make Faust use the raw codec for the changelog and its recovery.
    state_table: TableT[bytes, bytes] = app.Table(
        "stream-state", partitions=topics["scans"].partitions, key_type=bytes,
        value_type=bytes)
    alert_table: TableT[bytes, bytes] = app.Table(
        "alert-state", partitions=topics["anomalies"].partitions, key_type=bytes,
        value_type=bytes)
    slot = ModelSlot()
    processor = ScanProcessor(settings.detection(), load_rules(settings.rules_file),
                              features_every_s=settings.features_every_s,
                              late_after_s=settings.late_after_s, model=slot,
                              shadow_window_s=settings.shadow_window_s)
    detect_worker = DetectWorker(processor, topics, publish, TableStore(state_table, publish),
                                 checkpoint_every_s=settings.checkpoint_every_s,
                                 checkpoint_every_scans=settings.checkpoint_every_scans)
    alert_worker = AlertWorker(topics, publish, TableStore(alert_table, publish),
                               clear_after_s=settings.alert_clear_after_s,
                               holdoff_s=settings.alert_holdoff_s)
    deployments = topics["model-deployments"]
    follower = DeploymentFollower(settings.kafka, deployments.name, deployments.partitions,
                                  TrustedKeys.from_directory(settings.trusted_keys_dir), slot,
                                  reject, ArtifactFetcher(settings.s3))
    catalogue_topic = topics["tag-catalogue"]
    catalogues = CatalogueFollower(settings.kafka, catalogue_topic.name,
                                   catalogue_topic.partitions, processor, reject)

    recovery = cast(TableManager, app.tables).recovery
    health = WorkerHealth(detect_worker.counts,
                          ready=lambda: recovery.completed.is_set() and not app.rebalancing)
    if settings.metrics_port:
        app.endpoints = HealthServer(health.registry, health.report, settings.metrics_host,
                                     settings.metrics_port)

    def fail(agent: str, messages: list[Message], exc: Exception) -> None:
        exit_on_failure(agent, [m.position for m in messages], exc,
                        lambda: task_dump.dump_worker(app))

    # one batch at a time: a rebalance forgets the cached states only between batches
    batch_lock = asyncio.Lock()
    # the scans and lab results handled since the last checkpoint: their offsets may be
    # committed only once the snapshots that hold them are on the log
    held = HeldEvents()

    def checkpointed(done: bool) -> None:
        health.batch_done(checkpointed=done)
        if done:
            held.release()

    async def checkpoint_now() -> None:
        """Write what is held and release it (before a rebalance or a stop waits for every
        message to be acknowledged, and when the input went quiet)."""
        async with batch_lock:
            if held:
                try:
                    await detect_worker.flush(checkpoint=True)
                except Exception as exc:  # noqa: BLE001 - never a silent, idle worker
                    fail("detect", [], exc)
                health.checkpoint_done()
                held.release()

    app.before_wait_empty = checkpoint_now

    @app.agent(faust_topics[topics.name("scans")], name="detect")
    async def detect(stream: StreamT[bytes]) -> AsyncIterator[None]:
        batches = cast(Stream[bytes], stream).take_events(settings.batch_max,
                                                          within=settings.batch_within_s)
        async for events in batches:
            if not follower.ready.is_set():  # score with the deployed models from the start
                await follower.ready.wait()
            if not catalogues.ready.is_set():  # and with every plant's kinds and roles
                await catalogues.ready.wait()
            messages = [_message(e) for e in events]
            async with batch_lock:
                held.hold(events)
                try:
                    checkpointed(await detect_worker.handle(messages))
                except Exception as exc:  # noqa: BLE001 - never a silent, idle worker
                    fail("detect", messages, exc)
            # Let the stream's buffering task run before the batch is released: a batch handled
            # without any suspension (all scans replayed and skipped) can otherwise stall it.
            await asyncio.sleep(0)
            yield None

    @app.agent(faust_topics[topics.name("lab-results")], name="lab")
    async def lab(stream: StreamT[bytes]) -> AsyncIterator[None]:
        async for event in stream.events():
            messages = [_message(event)]
            async with batch_lock:
                held.hold([event])
                try:  # a lab result is rare and changes the plant: checkpointed at once
                    checkpointed(await detect_worker.handle(messages, checkpoint=True))
                except Exception as exc:  # noqa: BLE001 - never a silent, idle worker
                    fail("lab", messages, exc)
            yield None

    @app.timer(max(0.5, settings.checkpoint_every_s / 4))  # type: ignore[untyped-decorator]
    async def checkpoint_quiet_input() -> None:
        if held and detect_worker.checkpoint_due():
            await checkpoint_now()

    alert_sources = app.topic(topics.name("anomalies"), topics.name("alert-commands"),
                              key_serializer="raw", value_serializer="raw")

    @app.agent(alert_sources, name="alerts")
    async def alerts(stream: StreamT[bytes]) -> AsyncIterator[None]:
        async for event in stream.events():
            message = _message(event)
            try:
                await alert_worker.handle(message)
            except Exception as exc:  # noqa: BLE001 - never a silent, idle worker
                fail("alerts", [message], exc)
            yield None

    @app.timer(settings.alert_check_interval_s)  # type: ignore[untyped-decorator]
    async def clear_quiet_alerts() -> None:
        if recovery.completed.is_set() and not app.rebalancing:
            await alert_worker.tick()

    @app.task  # type: ignore[untyped-decorator]
    async def follow_deployments() -> None:
        await follower.run()

    @app.task  # type: ignore[untyped-decorator]
    async def follow_catalogues() -> None:
        await catalogues.run()

    inputs = {topics.name(s) for s in ("scans", "lab-results", "anomalies", "alert-commands")}
    watch = StallWatch(settings.stall_after_s)
    probe = BrokerOffsets(settings.kafka, settings.app_id)

    @app.timer(stall_check_interval(settings))  # type: ignore[untyped-decorator]
    async def watch_inputs() -> None:
        if app.rebalancing or not recovery.completed.is_set():
            watch.pause()  # nothing is committed while partitions move: no stall
            return
        assigned = [Partition(tp.topic, tp.partition) for tp in app.consumer.assignment()
                    if tp.topic in inputs]
        try:
            seen = await probe.offsets(assigned)
        except OffsetsUnavailableError as exc:
            log.warning("stall_watch_offsets_unavailable", error=str(exc))
            return
        if app.rebalancing:
            watch.pause()
            return
        health.offsets_read(seen)
        stalls = []
        for stall in watch.observe(time.monotonic(), seen):
            try:
                unread = await probe.consumable(stall.partition, stall.seek_to,
                                                stall.offsets.end)
            except OffsetsUnavailableError as exc:
                log.warning("stall_watch_offsets_unavailable", error=str(exc))
                unread = True
            if unread:
                stalls.append(stall)
            else:  # only transaction markers lie beyond what the group committed
                log.info("stall_watch_markers_only", partition=str(stall.partition),
                         committed=stall.offsets.committed, end=stall.offsets.end)
                watch.forget(stall.partition)
        for stall in stalls:
            if stall.action == "seek":
                log.warning("agents_input_stalled_seeking", partition=str(stall.partition),
                            committed=stall.offsets.committed, end=stall.offsets.end,
                            behind=stall.offsets.behind, still_for_s=round(stall.still_for_s, 1),
                            seek_to=stall.seek_to)
                task_dump.dump_consumer(app, sys.stderr)
                tp = TP(stall.partition.topic, stall.partition.partition)
                try:
                    await app.consumer.seek_wait({tp: stall.seek_to})
                except (TimeoutError, KafkaError) as exc:  # revoked meanwhile, or
                    log.warning("agents_input_seek_failed", partition=str(stall.partition),
                                error=repr(exc))  # the broker is away: exit next time
                health.seeks += 1
        health.stalled(watch.sought_back())
        if any(stall.action == "exit" for stall in stalls):
            exit_for_restart(app, [stall for stall in stalls if stall.action == "exit"])

    @app.task  # type: ignore[untyped-decorator]
    async def serve_endpoints() -> None:
        if app.endpoints is not None:
            await app.endpoints.start()
            log.info("agents_endpoints_serving", host=settings.metrics_host,
                     port=app.endpoints.port)

    @app.on_before_shutdown.connect
    async def stop_outputs(sender: Any, /, *args: Any, **kwargs: Any) -> None:
        await outputs.stop()
        await probe.stop()
        if app.endpoints is not None:
            await app.endpoints.stop()

    @app.on_partitions_revoked.connect
    async def forget_cached_state(sender: Any, /, *args: Any, signal: Any,
                                  **kwargs: Any) -> None:
        async with batch_lock:  # not in the middle of a batch, whose snapshots it would empty
            detect_worker.forget()
            held.forget()  # released before Faust waited; otherwise read again after it
        alert_worker.forget()

    del (detect, lab, alerts, clear_quiet_alerts, checkpoint_quiet_input, follow_deployments,
         follow_catalogues, watch_inputs, serve_endpoints,
         forget_cached_state, stop_outputs)
    return app
