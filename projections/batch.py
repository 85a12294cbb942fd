"""Log messages turned into what one batch writes: decoding, duplicate detection and routing
into :class:`BatchRows`. No database: the received sequence numbers are given."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

from projections.rows import BatchRows
from streams.codec import decode
from streams.errors import ContractError
from streams.events import (
    AlertAcknowledged,
    AlertCleared,
    AlertCommented,
    AlertOpened,
    AlertUpdated,
    AnomalyDetected,
    DeviceStatusChanged,
    EdgeHeartbeat,
    Event,
    LabResultRecorded,
    ScanRecorded,
    TagsConfigured,
)

TopicPartition = tuple[str, int]
EdgeKey = tuple[str, UUID]
EdgeEvent = ScanRecorded | DeviceStatusChanged | EdgeHeartbeat | TagsConfigured
_ALERTS = (AlertOpened, AlertUpdated, AlertAcknowledged, AlertCommented, AlertCleared)


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One consumed record, independent of the Kafka client."""

    topic: str
    partition: int
    offset: int
    value: bytes | None


Decoded = tuple[RawMessage, Event | str]


@dataclass
class Batch:
    """The rows of one batch and the offsets it moves to. ``readings_copy``, when set, holds
    the readings already encoded for a binary COPY (``rows.readings`` is then empty)."""

    rows: BatchRows
    positions: dict[TopicPartition, int] = field(default_factory=dict)
    events: int = 0
    readings: int = 0
    readings_copy: bytes | None = None


def decode_batch(messages: Sequence[RawMessage]) -> list[Decoded]:
    """Each message with its event, or the reason it cannot be projected (no database: may run
    in another thread while the previous batch is written)."""
    return [(m, _decode(m)) for m in messages]


def _decode(message: RawMessage) -> Event | str:
    """The event, or why it cannot be projected."""
    if message.value is None:
        return "message has no value"
    try:
        return decode(message.value)
    except ContractError as exc:
        return str(exc)[:4000] or type(exc).__name__


def edge_keys(decoded: list[Decoded]) -> list[EdgeKey]:
    """The (plant, edge boot) of every edge event, sorted: whose received seqs to read."""
    return sorted({(e.plant_id, e.edge_boot_id) for _, e in decoded if isinstance(e, EdgeEvent)})


def route_batch(decoded: list[Decoded], seen: SeqSet) -> Batch:
    """The rows of ``decoded`` (in log order), given the sequence numbers already received."""
    batch = Batch(BatchRows())
    rows, positions = batch.rows, batch.positions
    for message, event in decoded:
        positions[(message.topic, message.partition)] = message.offset + 1
        if isinstance(event, str):
            rows.rejected.append((message.topic, message.partition, message.offset,
                                  "ContractError", event, message.value or b""))
            continue
        batch.events += 1
        _route(rows, seen, event)
    batch.readings = len(rows.readings)
    return batch


def _route(rows: BatchRows, seen: SeqSet, event: Event) -> None:
    if isinstance(event, EdgeEvent):
        if seen.add(event.plant_id, event.edge_boot_id, event.seq):
            rows.add_edge(event)
        else:
            rows.add_duplicate(event)
    elif isinstance(event, AnomalyDetected):
        rows.anomalies.append(event)
    elif isinstance(event, _ALERTS):
        rows.alert_events.append(event)
    elif isinstance(event, LabResultRecorded):
        rows.lab_results.append(event)


class SeqSet:
    """Sequence numbers already received per edge boot: stored ranges plus this batch."""

    def __init__(self, ranges: dict[EdgeKey, list[tuple[int, int]]]) -> None:
        self._ranges = ranges
        self._lows = {k: [lo for lo, _ in v] for k, v in ranges.items()}
        self._batch: set[tuple[str, UUID, int]] = set()

    def add(self, plant_id: str, boot: UUID, seq: int) -> bool:
        """Record ``seq``; False when it was received before (a duplicate)."""
        key = (plant_id, boot, seq)
        if key in self._batch:
            return False
        lows = self._lows.get((plant_id, boot))
        if lows:
            i = bisect.bisect_right(lows, seq) - 1
            if i >= 0 and seq < self._ranges[(plant_id, boot)][i][1]:
                return False
        self._batch.add(key)
        return True

    def added(self) -> list[tuple[str, UUID, int]]:
        """The sequence numbers recorded as new, in no particular order."""
        return list(self._batch)
