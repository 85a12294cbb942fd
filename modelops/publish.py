"""Publish model deployments (``ModelDeployed``, live or shadow), end shadows, roll back, and
publish drift anomalies.

The detectors follow the compacted deployments topic and verify every deployment themselves
(digest, signature, trusted key, features); here only promoted (signed) registry entries are
published. aiokafka errors are translated here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal

from logio.appending import AppendError, append_events, append_tombstone
from modelops.errors import ModelOpsError, RegistryError
from modelops.registry import Entry, Registry
from streams.events import ModelDeployed
from streams.events.base import EventBase
from streams.logsetup import get_logger
from streams.settings import KafkaSettings
from streams.topics import Stream, Topics, deployment_key

log = get_logger("modelops.publish")
Role = Literal["live", "shadow"]
#: the deployment history's record of a shadow that was ended
SHADOW_ENDED = "shadow-ended"


class PublishError(ModelOpsError):
    """The broker did not accept the events."""


def deployment(entry: Entry, plant_id: str | None, deployed_by: str,
               now: datetime | None = None, role: Role = "live") -> ModelDeployed:
    signed = entry.signed
    if signed is None:
        raise RegistryError(f"{entry.model_id} version {entry.version} is not promoted (not "
                            f"signed); run biogas models promote {entry.model_id} --version "
                            f"{entry.version}")
    return ModelDeployed(model_id=entry.model_id, version=entry.version, plant_id=plant_id,
                         sha256=signed.sha256, artifact_uri=entry.uri,
                         signature=signed.signature, key_id=signed.key_id,
                         features=tuple(entry.metadata["features"]), deployed_by=deployed_by,
                         deployed_at=now or datetime.now(UTC), role=role)


async def publish(kafka: KafkaSettings, topics: Topics, events: Iterable[EventBase]) -> None:
    """Append events to their topics and wait until the broker has them all."""
    try:
        await append_events(kafka, topics, events, client_id=f"{kafka.client_id}-models")
    except AppendError as exc:
        raise PublishError(str(exc)) from exc


async def deploy(registry: Registry, entry: Entry, plant_id: str | None,
                 kafka: KafkaSettings, topics: Topics, deployed_by: str,
                 role: Role = "live") -> ModelDeployed:
    event = deployment(entry, plant_id, deployed_by, role=role)
    await publish(kafka, topics, [event])
    registry.record_deployment({"model_id": entry.model_id, "version": entry.version,
                                "plant_id": plant_id, "sha256": event.sha256,
                                "deployed_at": event.deployed_at.isoformat(),
                                "event_id": str(event.event_id), "role": role})
    log.info("model_deployed", model_id=entry.model_id, version=entry.version,
             plant_id=plant_id, sha256=event.sha256, role=role)
    return event


async def end_shadow(registry: Registry, model_id: str, plant_id: str | None,
                     kafka: KafkaSettings, topics: Topics) -> str:
    """End the shadow of ``model_id`` in a plant scope (a tombstone under its deployment
    key); returns the version that was in shadow."""
    version = shadow_deployments(registry.deployments()).get((plant_id, model_id))
    if version is None:
        raise RegistryError(f"{model_id} has no shadow running for "
                            f"{plant_id or 'every plant'}; start one with biogas models "
                            f"deploy {model_id} --shadow")
    try:
        await append_tombstone(kafka, topics.name(Stream.MODEL_DEPLOYMENTS),
                               deployment_key(model_id, plant_id, "shadow").encode(),
                               client_id=f"{kafka.client_id}-models")
    except AppendError as exc:
        raise PublishError(str(exc)) from exc
    registry.record_deployment({"model_id": model_id, "version": version,
                                "plant_id": plant_id, "role": SHADOW_ENDED,
                                "deployed_at": datetime.now(UTC).isoformat()})
    log.info("shadow_ended", model_id=model_id, version=version, plant_id=plant_id)
    return version


def live_deployments(history: list[dict[str, Any]]) -> dict[tuple[str | None, str], str]:
    """The version live per (plant scope, model id): the last one deployed in each scope
    (scope None = every plant)."""
    live: dict[tuple[str | None, str], str] = {}
    for record in history:
        if record.get("role", "live") == "live":
            live[(record.get("plant_id"), record["model_id"])] = record["version"]
    return live


def shadow_deployments(history: list[dict[str, Any]]) -> dict[tuple[str | None, str], str]:
    """The version in shadow per (plant scope, model id), for shadows not ended."""
    shadows: dict[tuple[str | None, str], str] = {}
    for record in history:
        scope = (record.get("plant_id"), record["model_id"])
        if record.get("role") == "shadow":
            shadows[scope] = record["version"]
        elif record.get("role") == SHADOW_ENDED:
            shadows.pop(scope, None)
    return shadows


def previous_version(history: list[dict[str, Any]], model_id: str,
                     plant_id: str | None) -> tuple[str, str]:
    """(current, previous) deployed versions of a model in one plant scope."""
    scoped = [h["version"] for h in history
              if h["model_id"] == model_id and h.get("plant_id") == plant_id
              and h.get("role", "live") == "live"]
    if not scoped:
        raise RegistryError(f"{model_id} was never deployed for "
                            f"{plant_id or 'every plant'}; nothing to roll back")
    current = scoped[-1]
    earlier = [v for v in scoped[:-1] if v != current]
    if not earlier:
        raise RegistryError(f"{model_id} has only version {current} deployed for "
                            f"{plant_id or 'every plant'}; no previous version to roll back to")
    return current, earlier[-1]
