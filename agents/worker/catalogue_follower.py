"""Follow the tag-catalogue topic: every plant's ``TagsConfigured``, read from the beginning
by every worker (whichever partitions of the scans it holds) and handed to the
:class:`agents.pipeline.ScanProcessor`. A record that is not a catalogue is logged and
dead-lettered with the reason; the catalogues already known stay."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from agents.deadletter import Position, dead_letter
from agents.pipeline import ScanProcessor
from agents.worker.topic_follower import TopicFollower
from streams.codec import decode
from streams.errors import ContractError
from streams.events import MessageDeadLettered, TagsConfigured
from streams.logsetup import get_logger
from streams.settings import KafkaSettings

log = get_logger("agents.catalogues")
BY = "agents.catalogues"


class CatalogueFollower:
    """Applies every plant's tag catalogue to a processor."""

    def __init__(self, kafka: KafkaSettings, topic: str, partitions: int,
                 processor: ScanProcessor,
                 reject: Callable[[MessageDeadLettered], Awaitable[object]]) -> None:
        self.topic, self.processor, self.reject = topic, processor, reject
        self.follower = TopicFollower(
            kafka, topic, partitions, self.apply, name="catalogues",
            on_ready=lambda: log.info("catalogues_loaded", plants=len(processor.catalogues)))
        self.ready = self.follower.ready

    async def run(self) -> None:
        await self.follower.run()

    async def apply(self, position: Position, key: bytes | None, value: bytes | None) -> None:
        if value is None:
            return
        try:
            event = decode(value)
            if not isinstance(event, TagsConfigured):
                raise ContractError(f"a {event.event_type} event does not belong on "
                                    f"{self.topic}")
        except ContractError as exc:
            log.error("catalogue_rejected", topic=position.topic, offset=position.offset,
                      reason=str(exc))
            await self.reject(dead_letter(position, key, value, reason=str(exc),
                                          error_type=type(exc).__name__, by=BY))
            return
        self.processor.catalogue(event)
        log.info("catalogue_applied", plant_id=event.plant_id, tags=len(event.tags),
                 with_kind=sum(t.kind is not None for t in event.tags),
                 with_role=sum(t.role is not None for t in event.tags))
