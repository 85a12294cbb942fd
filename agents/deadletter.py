"""Dead letters: a message that cannot be processed is parked with its reason and position."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from streams.events import MessageDeadLettered

MAX_REASON = 4000
MAX_PLANT = 256


@dataclass(frozen=True)
class Position:
    """Where a consumed message came from."""

    topic: str
    partition: int
    offset: int


def dead_letter(position: Position, key: bytes | None, value: bytes | None, *, reason: str,
                error_type: str, by: str, key_is_plant: bool = True) -> MessageDeadLettered:
    """The dead letter of one message; the plant is taken from the key when the topic is keyed
    by plant and the key is readable."""
    plant: str | None = None
    if key and key_is_plant:
        try:
            plant = key.decode("utf-8")[:MAX_PLANT] or None
        except UnicodeDecodeError:
            plant = None
    return MessageDeadLettered(
        plant_id=plant, source_topic=position.topic, partition=position.partition,
        offset=position.offset,
        key=None if key is None else MessageDeadLettered.encode_bytes(key),
        payload=MessageDeadLettered.encode_bytes(value or b""),
        reason=(reason or "unknown")[:MAX_REASON], error_type=error_type[:128],
        dead_lettered_at=datetime.now(UTC), by=by)
