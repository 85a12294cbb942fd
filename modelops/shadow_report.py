"""Read the detectors' shadow comparisons (``ModelShadowCompared``) back from the log, and sum
them per candidate."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from modelops.log_replay import Advance, replay_topic
from streams.codec import decode
from streams.errors import ContractError
from streams.events import ModelRef, ModelShadowCompared
from streams.settings import KafkaSettings
from streams.topics import Stream, Topics


async def read_comparisons(kafka: KafkaSettings, topics: Topics, *, model_id: str | None = None,
                           plant_id: str | None = None, since: datetime | None = None,
                           advance: Advance | None = None) -> list[ModelShadowCompared]:
    """Every comparison on the topic (of one model, one plant, windows ending after
    ``since``), ordered by window end."""
    spec = topics[Stream.MODEL_SHADOW]
    found: list[ModelShadowCompared] = []
    async for value in replay_topic(kafka, spec.name, spec.partitions,
                                    client_id=f"{kafka.client_id}-shadow-report",
                                    advance=advance):
        event = _decode(value)
        if event is not None and (model_id is None or event.model_id == model_id) \
                and (plant_id is None or event.plant_id == plant_id) \
                and (since is None or event.window_end > since):
            found.append(event)
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
