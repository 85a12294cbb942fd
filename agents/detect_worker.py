"""The detector agent's batch handling, independent of the consumer that feeds it.

Each message of a batch is decoded (undecodable ones become dead letters) and its scan run
through :class:`agents.pipeline.ScanProcessor`; features and anomalies are published at once.
The flush at the end of the batch waits until the broker has them. Then, when a checkpoint
is due (every ``checkpoint_every_s`` seconds or ``checkpoint_every_scans`` scans, whichever
comes first; 0 seconds: after every batch), it writes one state snapshot per stream and per
plant touched since the last checkpoint (plant features and lab results live beside the
streams, under :func:`agents.pipeline.plant_key`) and waits until the broker has them too.
Only messages up to a checkpoint are acknowledged (by the caller), so a crash at any point
replays scans that are either not yet in the snapshot (and are applied again, their outputs
published again under the same ids) or already in it (and are skipped by their ``seq``).
A stream that scans once a second thus writes its snapshot once per checkpoint, not once a
second.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from agents.deadletter import Position, dead_letter
from agents.errors import AgentsError, StateError
from agents.pipeline import ScanProcessor, plant_key, stream_key
from streams.codec import decode, encode
from streams.errors import ContractError
from streams.events import EventBase, LabResultRecorded, ScanRecorded
from streams.logsetup import get_logger
from streams.topics import Topics

log = get_logger("agents.detect")
BY = "agents.detect"


@dataclass(frozen=True)
class Message:
    """One consumed message."""

    position: Position
    key: bytes | None
    value: bytes | None


class Publish(Protocol):
    """Enqueue a message (to ``partition``, or by key when None; a None value is a
    tombstone); returns an awaitable that resolves once the broker has it."""

    async def __call__(self, topic: str, key: bytes, value: bytes | None,
                       partition: int | None = None) -> Awaitable[object]: ...


class StateStore(Protocol):
    """Where stream snapshots live (a Faust table's changelog in the worker)."""

    def load(self, key: str) -> bytes | None: ...

    async def save(self, key: str, partition: int, data: bytes) -> Awaitable[object]:
        """Keep ``data`` under ``key`` and start writing it to the log (``partition`` of the
        changelog); the awaitable resolves once the broker has it."""
        ...


class DetectWorker:
    """Handles scans (and lab results) for one process: :meth:`add` applies a message at once
    and queues its outputs; :meth:`flush` waits until the broker has them and, when a
    checkpoint is due, writes the snapshots of what changed since the last one. A message is
    acknowledged (by the caller) only after the checkpoint that follows it."""

    def __init__(self, processor: ScanProcessor, topics: Topics, publish: Publish,
                 store: StateStore, *, checkpoint_every_s: float = 0.0,
                 checkpoint_every_scans: int = 1,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if checkpoint_every_s < 0 or checkpoint_every_scans < 1:
            raise ValueError("checkpoint_every_s must be >= 0 and checkpoint_every_scans >= 1")
        self.processor = processor
        self.topics = topics
        self.publish = publish
        self.store = store
        self.every_s, self.every_scans, self.clock = (checkpoint_every_s,
                                                      checkpoint_every_scans, clock)
        self.counts = {"scans": 0, "skipped": 0, "features": 0, "anomalies": 0,
                       "shadow_comparisons": 0, "dead_letters": 0, "checkpoints": 0,
                       "snapshots": 0, "state_bytes": 0}
        #: plant id -> the scans topic's partition its scans arrive on
        self._scan_partition: dict[str, int] = {}
        # outputs not yet confirmed (since the last flush); streams and plants changed, and
        # messages added, since the last checkpoint
        self._pending: list[Awaitable[object]] = []
        self._touched: dict[str, int] = {}
        self._plants: dict[str, int] = {}
        self._since = 0
        self._last_checkpoint = clock()

    def forget(self) -> None:
        """Drop cached states (after a rebalance, between batches): they reload from the store
        when used."""
        self.processor.states.clear()
        self.processor.plants.clear()
        self._pending.clear()
        self._touched.clear()
        self._plants.clear()
        self._since = 0

    async def _send(self, event: EventBase) -> None:
        spec = self.topics.topic_for(event)
        self._pending.append(await self.publish(spec.name, self.topics.key_for(event),
                                                encode(event)))

    async def handle(self, batch: Sequence[Message], *, checkpoint: bool = False) -> bool:
        """:meth:`add` every message, then :meth:`flush`: whether it was a checkpoint (the
        messages up to here may then be acknowledged). ``checkpoint``: one in any case."""
        for msg in batch:
            await self.add(msg)
        return await self.flush(checkpoint=checkpoint)

    @property
    def holding(self) -> int:
        """Messages added since the last checkpoint (not to be acknowledged yet)."""
        return self._since

    def checkpoint_due(self) -> bool:
        return self._since >= self.every_scans \
            or self.clock() - self._last_checkpoint >= self.every_s

    async def add(self, msg: Message) -> None:
        """Apply one message: a scan (its features and anomalies are published), a lab result,
        or a dead letter for anything undecodable or out of place, and for a scan or lab
        result whose processing fails (a model error, or any defect: one message can never
        stop the stream or make the worker crash on it again after a restart)."""
        self._since += 1
        try:
            if msg.value is None:
                raise ContractError("message has no value (tombstone)")
            event = decode(msg.value)
            if isinstance(event, LabResultRecorded):
                await self._lab(msg, event)
                return
            if not isinstance(event, ScanRecorded):
                raise ContractError(f"a {event.event_type} event does not belong on "
                                    f"{msg.position.topic}")
        except ContractError as exc:
            await self._dead_letter(msg, exc)
            return
        key = stream_key(event)
        if key not in self.processor.states:
            self._restore(key)
        self._restore_plant(event.plant_id)
        try:
            outcome = self.processor.process(event)
        except AgentsError as exc:  # e.g. the model failed to score: park the scan
            await self._dead_letter(msg, exc)
            return
        except Exception as exc:  # noqa: BLE001 - a defect on this scan: park it, go on
            # the stream's cached state may be half updated: read it back from its snapshot,
            # which then needs no writing (an empty state must never overwrite it)
            self.processor.states.pop(key, None)
            self._touched.pop(key, None)
            self._restore(key)
            log.error("scan_processing_failed", stream=key, topic=msg.position.topic,
                      partition=msg.position.partition, offset=msg.position.offset,
                      error=repr(exc))
            await self._dead_letter(msg, exc, reason=f"processing failed: {exc!r}")
            return
        if outcome.skipped:
            self.counts["skipped"] += 1
            return
        self.counts["scans"] += 1
        for out in (*outcome.features, *outcome.anomalies, *outcome.shadows):
            await self._send(out)
        self.counts["features"] += len(outcome.features)
        self.counts["anomalies"] += len(outcome.anomalies)
        self.counts["shadow_comparisons"] += len(outcome.shadows)
        self._touched[key] = self._plants[event.plant_id] = msg.position.partition
        self._scan_partition[event.plant_id] = msg.position.partition

    async def _lab(self, msg: Message, event: LabResultRecorded) -> None:
        plant = event.plant_id
        self._restore_plant(plant)
        try:
            self.processor.lab_result(event)
        except Exception as exc:  # noqa: BLE001 - a defect on this result: park it, go on
            self.processor.plants.pop(plant, None)
            self._plants.pop(plant, None)
            self._restore_plant(plant)
            log.error("lab_result_failed", plant=plant, offset=msg.position.offset,
                      error=repr(exc))
            await self._dead_letter(msg, exc, reason=f"processing failed: {exc!r}")
            return
        # beside the plant's streams when they are known (the scans topic's partition of
        # the plant, where its snapshots are read back)
        self._plants[plant] = self._scan_partition.get(plant, msg.position.partition)

    async def flush(self, *, checkpoint: bool = False) -> bool:
        """Wait until the broker has every queued output; then, when a checkpoint is due (or
        ``checkpoint``), snapshot the streams and plants changed since the last one and wait
        until the broker has the snapshots too. Whether it was a checkpoint."""
        pending, self._pending = self._pending, []
        for fut in pending:
            await fut
        if not (checkpoint or self.checkpoint_due()):
            return False
        touched, self._touched = self._touched, {}
        plants, self._plants = self._plants, {}
        snapshots = [(key, partition, self.processor.snapshot(key))
                     for key, partition in touched.items()]
        snapshots.extend((plant_key(plant_id), partition,
                          self.processor.snapshot_plant(plant_id))
                         for plant_id, partition in plants.items())
        saved = [await self.store.save(key, partition, data)
                 for key, partition, data in snapshots]
        # only a snapshot on the log may let the messages be acknowledged: a crash after the
        # acknowledgement must find the state that goes with the committed offsets
        for fut in saved:
            await fut
        self.counts["checkpoints"] += 1
        self.counts["snapshots"] += len(saved)
        self.counts["state_bytes"] += sum(len(data) for _, _, data in snapshots)
        self._since, self._last_checkpoint = 0, self.clock()
        return True

    def _restore(self, key: str) -> None:
        try:
            saved = self.store.load(key)
            if saved is None:
                return
            self.processor.restore(key, saved)
        except StateError as exc:
            log.error("state_unreadable_starting_fresh", stream=key, error=str(exc))

    def _restore_plant(self, plant_id: str) -> None:
        if plant_id in self.processor.plants:
            return
        try:
            saved = self.store.load(plant_key(plant_id))
            if saved is None:
                return
            self.processor.restore_plant(plant_id, saved)
        except StateError as exc:
            log.error("plant_state_unreadable_starting_fresh", plant=plant_id, error=str(exc))

    async def _dead_letter(self, msg: Message, exc: Exception,
                           reason: str | None = None) -> None:
        letter = dead_letter(msg.position, msg.key, msg.value, reason=reason or str(exc),
                             error_type=type(exc).__name__, by=BY)
        self.counts["dead_letters"] += 1
        log.warning("message_dead_lettered", topic=msg.position.topic,
                    partition=msg.position.partition, offset=msg.position.offset,
                    reason=letter.reason[:300], error_type=letter.error_type)
        await self._send(letter)
