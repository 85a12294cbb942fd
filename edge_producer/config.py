"""The plant config (TOML) as frozen pydantic models: devices, poll groups, tags, journal bound.

Field-level rules live on the models; rules across the whole plant (unknown devices, overlapping
registers, request size limits, duplicate names) live in :mod:`edge_producer.config_checks` and
run when a :class:`PlantConfig` is built. Load a file with :func:`edge_producer.config_loader.
load_plant`, which names the file, the line and the key of every problem.
"""

from __future__ import annotations

__all__ = ["DeviceConfig", "JournalPolicy", "PlantConfig", "PollGroupConfig", "TagConfig"]

from typing import Self

from pydantic import Field, model_validator

from edge_producer.config_checks import plant_problems
from edge_producer.config_parts import (
    DeviceConfig,
    FrozenModel,
    JournalPolicy,
    PollGroupConfig,
    TagConfig,
)
from streams.events.base import PlantId


class PlantConfig(FrozenModel):
    """A plant: its id, devices, poll groups, tags and journal bound."""

    plant_id: PlantId
    devices: dict[str, DeviceConfig] = Field(min_length=1)
    poll_groups: dict[str, PollGroupConfig] = Field(
        default_factory=lambda: {"default": PollGroupConfig(interval_s=1.0)})
    tags: tuple[TagConfig, ...] = Field(min_length=1)
    journal: JournalPolicy = Field(default_factory=JournalPolicy)

    @model_validator(mode="after")
    def _plant_consistent(self) -> Self:
        problems = plant_problems(self.devices, self.poll_groups, self.tags)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def tags_of(self, device: str) -> tuple[TagConfig, ...]:
        return tuple(t for t in self.tags if t.device == device)

    def tag(self, name: str) -> TagConfig:
        for t in self.tags:
            if t.name == name:
                return t
        raise KeyError(name)
