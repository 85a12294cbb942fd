"""Follow the model-deployments topic and hot-swap verified models.

The topic is compacted and read from the beginning on every start with a plain aiokafka
consumer outside any consumer group, so a restarted worker loads the deployed models again
before it scores (``ready`` is set once the consumer reached the end offsets seen at start;
see :mod:`agents.worker.topic_follower`). A deployment that fails verification is logged, published
as a dead letter with the reason, and the model in use stays.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from agents.deadletter import Position, dead_letter
from agents.errors import ModelRejectedError
from agents.models.registry import ArtifactFetcher, load_deployment
from agents.models.signing import TrustedKeys
from agents.pipeline import ModelSlot
from agents.worker.topic_follower import TopicFollower
from streams.codec import decode
from streams.errors import ContractError
from streams.events import MessageDeadLettered, ModelDeployed
from streams.logsetup import get_logger
from streams.settings import KafkaSettings
from streams.topics import parse_deployment_key

log = get_logger("agents.worker.deployments")
BY = "agents.worker.deployments"


class DeploymentFollower:
    """Reads every deployment and applies it to a :class:`ModelSlot`."""

    def __init__(self, kafka: KafkaSettings, topic: str, partitions: int, keys: TrustedKeys,
                 slot: ModelSlot,
                 reject: Callable[[MessageDeadLettered], Awaitable[object]],
                 fetcher: ArtifactFetcher | None = None) -> None:
        self.topic = topic
        self.keys, self.slot, self.reject = keys, slot, reject
        self.fetcher = fetcher or ArtifactFetcher()
        self.follower = TopicFollower(
            kafka, topic, partitions, self.apply, name="deployments",
            on_ready=lambda: log.info("deployments_loaded", models=len(self.slot.detectors)))
        self.ready = self.follower.ready
        self.applied: list[tuple[str, str, str | None]] = []
        self.rejected: list[str] = []

    async def run(self) -> None:
        """Follow the topic until cancelled, reconnecting with backoff."""
        await self.follower.run()

    async def apply(self, position: Position, key: bytes | None, value: bytes | None) -> None:
        """Verify and install one deployment, or reject it (logged and dead-lettered); a
        tombstone under a shadow's key ends that shadow."""
        if value is None:
            self._tombstone(key)
            return
        try:
            event = decode(value)
            if not isinstance(event, ModelDeployed):
                raise ContractError(f"a {event.event_type} event does not belong on "
                                    f"{self.topic}")
            # fetching (a file or an S3 object) and building the session block: off the loop
            detector = await asyncio.to_thread(load_deployment, event, self.keys, self.fetcher)
        except (ContractError, ModelRejectedError) as exc:
            self.rejected.append(str(exc))
            log.error("model_rejected", topic=position.topic, offset=position.offset,
                      reason=str(exc), error_type=type(exc).__name__)
            await self.reject(dead_letter(position, key, value, reason=f"model rejected: {exc}",
                                          error_type=type(exc).__name__, by=BY,
                                          key_is_plant=False))
            return
        previous = self.slot.install(event.plant_id, detector, event.role)
        self.applied.append((event.model_id, event.version, event.plant_id))
        log.info("model_swapped" if event.role == "live" else "shadow_started",
                 model_id=event.model_id, version=event.version,
                 plant_id=event.plant_id, sha256=event.sha256,
                 replaced=None if previous is None or previous.ref is None
                 else previous.ref.version)

    def _tombstone(self, key: bytes | None) -> None:
        if not key:
            return
        model_id, plant_id, role = parse_deployment_key(key.decode(errors="replace"))
        if role == "shadow" and self.slot.remove_shadow(plant_id, model_id) is not None:
            log.info("shadow_ended", model_id=model_id, plant_id=plant_id)
