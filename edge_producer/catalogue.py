"""The tag catalogue an edge producer publishes when it starts (``TagsConfigured``)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from uuid import UUID

import orjson

from edge_producer.config import PlantConfig
from streams.events import TagsConfigured, TagSpec


def config_digest(plant: PlantConfig) -> str:
    """SHA-256 of the plant configuration as validated (stable across key order and comments)."""
    canonical = orjson.dumps(plant.model_dump(mode="json", by_alias=True),
                             option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def tags_configured(plant: PlantConfig, boot_id: UUID, seq: int,
                    now: datetime | None = None) -> TagsConfigured:
    """Every configured tag with its device, poll group and interval, unit, expected range,
    kind and role."""
    specs = tuple(
        TagSpec(tag=tag.name, device=tag.device, poll_group=tag.group,
                poll_interval_s=plant.poll_groups[tag.group].interval_s,
                unit=tag.unit, min=tag.min, max=tag.max, kind=tag.detection_kind,
                role=tag.role)
        for tag in plant.tags)
    return TagsConfigured(plant_id=plant.plant_id, edge_boot_id=boot_id, seq=seq,
                          configured_at=now or datetime.now(UTC),
                          config_sha256=config_digest(plant), tags=specs)
