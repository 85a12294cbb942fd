"""``biogas rules suggest``: what the baseline detector learns of a plant's tags, read from the
log, as a rules file for an engineer to review (``BIOGAS_AGENTS_RULES_FILE`` format).

The plant's scans are replayed from the beginning of the scans topic through the detector
path, with the plant's tag catalogue, so each tag is commissioned exactly as the worker does
it. Every tag commissioned gets its kind; an analog tag also gets hard limits: its learnt
band widened by the detector's margin on either side. A rule file only adds what the
engineer keeps; without one the worker learns the same by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from agents.detectors.baseline import BaselineConfig
from agents.detectors.rules import DEFAULT_RULES
from agents.pipeline import ScanProcessor
from agents.stream_state import DetectionConfig
from modelops.errors import ModelOpsError
from modelops.log_replay import Advance, replay_topic
from streams.codec import decode
from streams.errors import ContractError
from streams.events import ScanRecorded, TagsConfigured
from streams.settings import KafkaSettings
from streams.topics import Topics


@dataclass(frozen=True)
class Suggestion:
    """One tag: what was learnt and the rule proposed for it (None while still learning)."""

    stream: str
    tag: str
    learnt: dict[str, Any]
    rule: dict[str, Any] | None


def processor_for(commission_s: float) -> ScanProcessor:
    """The worker's detector path with its shipped defaults and this commissioning time;
    nothing is retrospective, whatever the wall clock says."""
    return ScanProcessor(DetectionConfig(baseline=BaselineConfig(commission_s=commission_s)),
                         DEFAULT_RULES, late_after_s=float("inf"),
                         clock=lambda: datetime.max.replace(tzinfo=UTC))


def suggestions(processor: ScanProcessor, plant_id: str) -> list[Suggestion]:
    """The rule proposed for every tag of the plant's streams the processor has seen."""
    out: list[Suggestion] = []
    for key, state in sorted(processor.states.items()):
        if not key.startswith(f"{plant_id}|"):
            continue
        bank = state.baseline
        margin = bank.config.margin
        for col, tag in enumerate(state.windows.tags):
            if tag.startswith("derived:") or col >= bank.size:
                continue
            learnt = bank.learnt(col)
            kind = learnt["kind"]
            rule: dict[str, Any] | None = None
            if kind == "analog":
                low, high = learnt["low"], learnt["high"]
                width = high - low
                rule = {"pattern": tag, "kind": kind, "low": round(low - margin * width, 6),
                        "high": round(high + margin * width, 6)}
            elif kind != "unknown":
                rule = {"pattern": tag, "kind": kind}
            out.append(Suggestion(key.split("|", 1)[1], tag, learnt, rule))
    return out


async def learn_from_log(kafka: KafkaSettings, topics: Topics, plant_id: str, *,
                         commission_s: float, advance: Advance | None = None) -> ScanProcessor:
    """Replay the plant's catalogue and scans from the log through a fresh detector path."""
    processor = processor_for(commission_s)
    catalogue = topics["tag-catalogue"]
    async for value in replay_topic(kafka, catalogue.name, catalogue.partitions,
                                    client_id=f"{kafka.client_id}-rules-suggest"):
        event = _decoded(value)
        if isinstance(event, TagsConfigured) and event.plant_id == plant_id:
            processor.catalogue(event)
    scans = topics["scans"]
    seen = 0
    async for value in replay_topic(kafka, scans.name, scans.partitions,
                                    client_id=f"{kafka.client_id}-rules-suggest",
                                    advance=advance):
        event = _decoded(value)
        if isinstance(event, ScanRecorded) and event.plant_id == plant_id:
            processor.process(event)
            seen += 1
    if not seen:
        raise ModelOpsError(f"no scans of plant {plant_id!r} on {scans.name}; check the plant "
                            "id and BIOGAS_KAFKA_BOOTSTRAP_SERVERS")
    return processor


def _decoded(value: bytes | None) -> object:
    if value is None:
        return None
    try:
        return decode(value)
    except ContractError:
        return None  # the worker dead-letters those; they teach nothing
