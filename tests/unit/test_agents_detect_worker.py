"""Batch handling without a broker: dead letters, snapshots after delivery, bad state, bad model."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime

import numpy as np
import pytest

from agents.deadletter import Position
from agents.detect_worker import DetectWorker, Message
from agents.detectors.onnx_scorer import OnnxDetector
from agents.detectors.rules import DEFAULT_RULES
from agents.errors import ModelError
from agents.pipeline import ModelSlot, ScanOutcome, ScanProcessor, plant_key, stream_key
from agents.stream_state import DetectionConfig, StreamState
from streams.codec import decode, encode
from streams.events import (
    Analyte,
    EventBase,
    FeaturesComputed,
    LabResultRecorded,
    MessageDeadLettered,
    ScanRecorded,
)
from streams.topics import Topics
from tests.agents_streams import scripted_scans

TOPICS = Topics(prefix="u.")
SCANS = scripted_scans(3, datetime(2026, 3, 1, tzinfo=UTC))


class Sink:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, EventBase]] = []
        self.delivered = 0

    async def publish(self, topic: str, key: bytes, value: bytes | None,
                      partition: int | None = None) -> Awaitable[object]:
        assert value is not None  # the worker's outputs are events, never tombstones
        self.sent.append((topic, key, decode(value)))

        async def delivered() -> None:
            self.delivered += 1

        return delivered()


class Store:
    def __init__(self) -> None:
        self.saved: dict[str, bytes] = {}
        self.delivered_when_saved: list[int] = []
        self.sink: Sink | None = None
        self.durable: dict[str, bytes] = {}  # what the broker has acknowledged

    def load(self, key: str) -> bytes | None:
        return self.saved.get(key)

    async def save(self, key: str, partition: int, data: bytes) -> Awaitable[object]:
        self.saved[key] = data
        self.delivered_when_saved.append(self.sink.delivered if self.sink else -1)

        async def acknowledged() -> None:
            self.durable[key] = data

        return acknowledged()


def message(offset: int, value: bytes) -> Message:
    return Message(Position(TOPICS.name("scans"), 2, offset), b"plant-a", value)


def worker(store: Store, sink: Sink, model: ModelSlot | None = None) -> DetectWorker:
    store.sink = sink
    proc = ScanProcessor(DetectionConfig(warmup=10), DEFAULT_RULES, model=model)
    return DetectWorker(proc, TOPICS, sink.publish, store)


async def test_poison_is_dead_lettered_and_the_next_scan_processed() -> None:
    sink, store = Sink(), Store()
    poison = b"\xff not json"
    await worker(store, sink).handle([message(7, poison), message(8, encode(SCANS[0]))])
    letters = [e for _, _, e in sink.sent if isinstance(e, MessageDeadLettered)]
    assert len(letters) == 1
    (letter,) = letters
    assert (letter.source_topic, letter.partition, letter.offset) == (TOPICS.name("scans"), 2, 7)
    assert letter.payload_bytes() == poison and letter.error_type == "MalformedEventError"
    assert any(isinstance(e, FeaturesComputed) for _, _, e in sink.sent)
    # The snapshots (the stream's and the plant's) are written only after every output of the
    # batch was delivered, and the batch is done only once the broker has the snapshots.
    assert store.delivered_when_saved == [len(sink.sent)] * 2
    assert store.durable == store.saved and len(store.durable) == 2


async def test_an_unreadable_snapshot_starts_fresh_and_a_replayed_scan_is_skipped() -> None:
    sink, store = Sink(), Store()
    store.saved[stream_key(SCANS[0])] = b"garbage"
    w = worker(store, sink)
    await w.handle([message(1, encode(SCANS[0]))])
    assert w.counts["scans"] == 1
    again = worker(store, Sink())
    await again.handle([message(1, encode(SCANS[0])), message(2, encode(SCANS[1]))])
    assert (again.counts["scans"], again.counts["skipped"]) == (1, 1)


class BrokenModel(OnnxDetector):
    def __init__(self) -> None:
        self.name, self.ref = "iforest", None

    def score_rows(self, rows: np.ndarray) -> np.ndarray:
        raise ModelError("model exploded")


async def test_a_model_failure_parks_the_scan_and_the_worker_goes_on() -> None:
    sink, store = Sink(), Store()
    w = worker(store, sink, ModelSlot(BrokenModel()))
    await w.handle([message(1, encode(SCANS[0]))])
    (letter,) = [e for _, _, e in sink.sent if isinstance(e, MessageDeadLettered)]
    assert letter.error_type == "ModelError" and "exploded" in letter.reason
    assert w.counts["dead_letters"] == 1


async def test_a_defect_on_one_scan_parks_it_and_the_stream_goes_on_from_its_snapshot(
        ) -> None:
    sink, store = Sink(), Store()
    w = worker(store, sink)
    await w.handle([message(1, encode(SCANS[0]))])
    real = w.processor.process

    def defective(scan: ScanRecorded) -> ScanOutcome:
        if scan.seq == SCANS[1].seq:
            real(scan)  # the state moves on, then something breaks
            raise IndexError("index 60 is out of bounds for axis 0 with size 60")
        return real(scan)

    w.processor.process = defective  # type: ignore[method-assign]
    await w.handle([message(2, encode(SCANS[1])), message(3, encode(SCANS[2]))])
    (letter,) = [e for _, _, e in sink.sent if isinstance(e, MessageDeadLettered)]
    assert letter.error_type == "IndexError" and "processing failed" in letter.reason
    assert letter.offset == 2
    # the next scan is applied on the state of the last snapshot, which had not seen scan 1
    assert (w.counts["scans"], w.counts["dead_letters"]) == (2, 1)
    key = stream_key(SCANS[2])
    assert w.processor.states[key].seq == SCANS[2].seq
    # a defect on the last scan of a batch, after a good one of the same stream: the stored
    # snapshot stays a real one (the good scan's), never an empty state
    later = scripted_scans(2, datetime(2026, 3, 1, tzinfo=UTC),
                           boot_id=SCANS[0].edge_boot_id, first_seq=3)
    broken_seq = later[1].seq

    def defective_last(scan: ScanRecorded) -> ScanOutcome:
        out = real(scan)
        if scan.seq == broken_seq:
            raise IndexError("boom")
        return out

    w.processor.process = defective_last  # type: ignore[method-assign]
    await w.handle([message(4, encode(later[0])), message(5, encode(later[1]))])
    stored = StreamState.from_bytes(store.saved[key], w.processor.config, w.processor.rules)
    assert stored.seq == SCANS[2].seq  # the last snapshot before the batch, kept
    assert w.processor.states[key].seq == SCANS[2].seq


def _lab(day: int, value: float) -> bytes:
    return encode(LabResultRecorded(
        plant_id="plant-a", sample_id=f"s{day}", analyte=Analyte.FOS_TAC, value=value,
        unit="1", sampled_at=datetime(2026, 2, day, tzinfo=UTC),
        recorded_at=datetime(2026, 2, day, 12, tzinfo=UTC), recorded_by="lab"))


async def test_plant_features_and_lab_results_survive_a_restart() -> None:
    scans = scripted_scans(30, datetime(2026, 3, 1, tzinfo=UTC))
    store = Store()
    first = worker(store, Sink())
    labs = [Message(Position(TOPICS.name("lab-results"), 0, k), b"plant-a", _lab(k + 1, v))
            for k, v in enumerate((0.30, 0.36))]
    await first.handle([message(k, encode(s)) for k, s in enumerate(scans[:12])])
    await first.handle(labs)
    before = first.processor.plants["plant-a"].features()
    assert before["fos_tac_last"] == 0.36 and before["fos_tac_trend_per_d"] > 0
    assert "dig_temp_std" in before

    second = worker(store, Sink())  # a restarted worker: nothing in memory, the same store
    await second.handle(labs)  # redelivered after the crash: changes nothing
    await second.handle([message(12, encode(scans[12]))])
    after = second.processor.plants["plant-a"]
    assert len(after.fos_tac) == 2 and len(after.temps) == 13
    assert after.features()["fos_tac_trend_per_d"] == pytest.approx(before["fos_tac_trend_per_d"])


async def test_a_defect_on_a_lab_result_parks_it_and_the_next_one_is_applied() -> None:
    sink, store = Sink(), Store()
    w = worker(store, sink)
    real = w.processor.lab_result

    def defective(event: LabResultRecorded) -> None:
        if event.sample_id == "s1":
            raise ValueError("a unit nobody expected")
        real(event)

    w.processor.lab_result = defective  # type: ignore[method-assign]
    labs = [Message(Position(TOPICS.name("lab-results"), 0, k), b"plant-a", _lab(k + 1, v))
            for k, v in enumerate((0.30, 0.36))]
    await w.handle(labs)
    (letter,) = [e for _, _, e in sink.sent if isinstance(e, MessageDeadLettered)]
    assert letter.error_type == "ValueError" and letter.offset == 0
    assert w.processor.plants["plant-a"].features()["fos_tac_last"] == 0.36


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_snapshots_wait_for_a_checkpoint_and_a_restart_replays_from_it() -> None:
    """Every 10 s (or 5 messages): batches in between write no snapshot and are not to be
    acknowledged; a worker restarted from the store replays them and publishes the same
    outputs under the same ids."""
    scans = scripted_scans(9, datetime(2026, 3, 1, tzinfo=UTC))
    sink, store, clock = Sink(), Store(), Clock()
    proc = ScanProcessor(DetectionConfig(warmup=10), DEFAULT_RULES)
    w = DetectWorker(proc, TOPICS, sink.publish, store, checkpoint_every_s=10.0,
                     checkpoint_every_scans=5, clock=clock)
    store.sink = sink
    assert not await w.handle([message(0, encode(scans[0]))])
    assert not await w.handle([message(1, encode(scans[1]))])
    assert store.saved == {} and w.holding == 2 and sink.delivered == len(sink.sent)
    clock.now += 10.0  # due by time
    assert await w.handle([message(2, encode(scans[2]))])
    key = stream_key(scans[0])
    assert list(store.durable) == [key, plant_key("plant-a")] and w.holding == 0
    assert w.counts["checkpoints"] == 1 and w.counts["snapshots"] == 2
    assert w.counts["state_bytes"] == sum(len(v) for v in store.durable.values())
    assert not await w.handle([message(k, encode(scans[k])) for k in (3, 4, 5, 6)])
    assert await w.handle([message(7, encode(scans[7]))])  # due by count: 5 messages
    assert StreamState.from_bytes(store.durable[key], proc.config, proc.rules).seq \
        == scans[7].seq
    assert not await w.handle([message(8, encode(scans[8]))])
    assert await w.flush(checkpoint=True) and w.holding == 0  # forced (a rebalance, a stop)

    # a crash after scan 4: offsets were committed up to the checkpoint after scan 2
    # (features every second: every scan publishes)
    def processor() -> ScanProcessor:
        return ScanProcessor(DetectionConfig(warmup=10), DEFAULT_RULES, features_every_s=1)

    replay_store, replay_sink = Store(), Sink()
    first = DetectWorker(processor(), TOPICS,
                         replay_sink.publish, replay_store, checkpoint_every_s=10.0,
                         checkpoint_every_scans=3, clock=Clock())
    await first.handle([message(k, encode(scans[k])) for k in (0, 1, 2)])  # a checkpoint
    await first.handle([message(k, encode(scans[k])) for k in (3, 4)])  # held, then killed
    second = DetectWorker(processor(), TOPICS,
                          replay_sink.publish, replay_store, checkpoint_every_s=10.0,
                          checkpoint_every_scans=3, clock=Clock())
    await second.handle([message(k, encode(scans[k])) for k in (3, 4, 5)])
    once_sink = Sink()
    once = DetectWorker(processor(), TOPICS,
                        once_sink.publish, Store())
    await once.handle([message(k, encode(scans[k])) for k in range(6)])
    replayed = [e.event_id for _, _, e in replay_sink.sent]
    assert len(replayed) > len(once_sink.sent)  # scans 3 and 4 published twice ...
    assert set(replayed) == {e.event_id for _, _, e in once_sink.sent}  # ... nothing new


def test_checkpoint_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="checkpoint_every_s"):
        DetectWorker(ScanProcessor(DetectionConfig(), DEFAULT_RULES), TOPICS, Sink().publish,
                     Store(), checkpoint_every_s=-1.0)
