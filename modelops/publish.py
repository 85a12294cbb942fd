"""Publish model deployments (``ModelDeployed``), roll back, and publish drift anomalies.

The detectors follow the compacted deployments topic and verify every deployment themselves
(digest, signature, trusted key, features); here only promoted (signed) registry entries are
published. aiokafka errors are translated here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from modelops.errors import ModelOpsError, RegistryError
from modelops.registry import Entry, Registry
from streams.appending import AppendError, append_events
from streams.events import ModelDeployed
from streams.events.base import EventBase
from streams.logsetup import get_logger
from streams.settings import KafkaSettings
from streams.topics import Topics

log = get_logger("modelops.publish")


class PublishError(ModelOpsError):
    """The broker did not accept the events."""


def deployment(entry: Entry, plant_id: str | None, deployed_by: str,
               now: datetime | None = None) -> ModelDeployed:
    signed = entry.signed
    if signed is None:
        raise RegistryError(f"{entry.model_id} version {entry.version} is not promoted (not "
                            f"signed); run biogas models promote {entry.model_id} --version "
                            f"{entry.version}")
    return ModelDeployed(model_id=entry.model_id, version=entry.version, plant_id=plant_id,
                         sha256=signed.sha256, artifact_uri=entry.uri,
                         signature=signed.signature, key_id=signed.key_id,
                         features=tuple(entry.metadata["features"]), deployed_by=deployed_by,
                         deployed_at=now or datetime.now(UTC))


async def publish(kafka: KafkaSettings, topics: Topics, events: Iterable[EventBase]) -> None:
    """Append events to their topics and wait until the broker has them all."""
    try:
        await append_events(kafka, topics, events, client_id=f"{kafka.client_id}-models")
    except AppendError as exc:
        raise PublishError(str(exc)) from exc


async def deploy(registry: Registry, entry: Entry, plant_id: str | None,
                 kafka: KafkaSettings, topics: Topics, deployed_by: str) -> ModelDeployed:
    event = deployment(entry, plant_id, deployed_by)
    await publish(kafka, topics, [event])
    registry.record_deployment({"model_id": entry.model_id, "version": entry.version,
                                "plant_id": plant_id, "sha256": event.sha256,
                                "deployed_at": event.deployed_at.isoformat(),
                                "event_id": str(event.event_id)})
    log.info("model_deployed", model_id=entry.model_id, version=entry.version,
             plant_id=plant_id, sha256=event.sha256)
    return event


def live_deployments(history: list[dict[str, Any]]) -> dict[tuple[str | None, str], str]:
    """The version live per (plant scope, model id): the last one deployed in each scope
    (scope None = every plant)."""
    live: dict[tuple[str | None, str], str] = {}
    for record in history:
        live[(record.get("plant_id"), record["model_id"])] = record["version"]
    return live


def previous_version(history: list[dict[str, Any]], model_id: str,
                     plant_id: str | None) -> tuple[str, str]:
    """(current, previous) deployed versions of a model in one plant scope."""
    scoped = [h["version"] for h in history
              if h["model_id"] == model_id and h.get("plant_id") == plant_id]
    if not scoped:
        raise RegistryError(f"{model_id} was never deployed for "
                            f"{plant_id or 'every plant'}; nothing to roll back")
    current = scoped[-1]
    earlier = [v for v in scoped[:-1] if v != current]
    if not earlier:
        raise RegistryError(f"{model_id} has only version {current} deployed for "
                            f"{plant_id or 'every plant'}; no previous version to roll back to")
    return current, earlier[-1]
