"""Read the detectors' shadow comparisons (``ModelShadowCompared``) back from the log.

The topic is read from its beginning to the end offsets seen at start, outside any consumer
group; aiokafka errors are translated here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from modelops.errors import ModelOpsError
from streams.codec import decode
from streams.errors import ContractError
from streams.events import ModelRef, ModelShadowCompared
from streams.settings import KafkaSettings
from streams.topics import Stream, Topics

Advance = Callable[[int], object]


async def read_comparisons(kafka: KafkaSettings, topics: Topics, *, model_id: str | None = None,
                           plant_id: str | None = None, since: datetime | None = None,
                           advance: Advance | None = None) -> list[ModelShadowCompared]:
    """Every comparison on the topic (of one model, one plant, windows ending after
    ``since``), ordered by window end."""
    spec = topics[Stream.MODEL_SHADOW]
    tps = [TopicPartition(spec.name, p) for p in range(spec.partitions)]
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, group_id=None,
                                client_id=f"{kafka.client_id}-shadow-report",
                                enable_auto_commit=False)
    found: list[ModelShadowCompared] = []
    try:
        await consumer.start()
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        pending = {tp for tp in tps if end[tp] > 0}
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=1000)
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= end[tp] - 1:
                        pending.discard(tp)
                    event = _decode(record.value)
                    if event is not None and (model_id is None or event.model_id == model_id) \
                            and (plant_id is None or event.plant_id == plant_id) \
                            and (since is None or event.window_end > since):
                        found.append(event)
                if advance is not None:
                    advance(len(records))
    except KafkaError as exc:
        raise ModelOpsError(f"cannot read {spec.name} from {kafka.bootstrap_servers}: "
                            f"{exc!r}") from exc
    finally:
        await consumer.stop()
    return sorted(found, key=lambda e: (e.window_end, e.plant_id, e.stream))


def _decode(value: bytes | None) -> ModelShadowCompared | None:
    if value is None:
        return None
    try:
        event = decode(value)
    except ContractError:
        return None
    return event if isinstance(event, ModelShadowCompared) else None


@dataclass
class ShadowTotals:
    """A candidate's comparisons summed (per plant and model)."""

    live: set[str] = field(default_factory=set)
    candidate: ModelRef | None = None
    windows: int = 0
    readings: int = 0
    live_alarms: int = 0
    candidate_alarms: int = 0
    both_alarms: int = 0
    differing: dict[str, int] = field(default_factory=dict)

    def add(self, event: ModelShadowCompared) -> None:
        self.live.add("none" if event.live is None else event.live.version)
        self.candidate = event.candidate
        self.windows += 1
        self.readings += event.readings
        self.live_alarms += event.live_alarms
        self.candidate_alarms += event.candidate_alarms
        self.both_alarms += event.both_alarms
        for tag, n in event.differing_by_tag.items():
            self.differing[tag] = self.differing.get(tag, 0) + n


def totals(events: list[ModelShadowCompared]) -> dict[tuple[str, str, str], ShadowTotals]:
    """Per (plant, model id, candidate version): the comparisons summed."""
    out: dict[tuple[str, str, str], ShadowTotals] = {}
    for event in events:
        key = (event.plant_id, event.model_id, event.candidate.version)
        out.setdefault(key, ShadowTotals()).add(event)
    return out
