"""The plants' tag catalogues as the detectors use them: per tag its kind and role
(``TagsConfigured``, merged per plant: several edge producers of one plant each publish their
own tags; a newer catalogue's tag replaces an older one's)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from agents.detectors.baseline import KINDS, UNKNOWN
from streams.events import TagsConfigured, TagSpec

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class PlantCatalogue:
    """One plant's tags by name; a new object whenever a catalogue changes it."""

    tags: Mapping[str, TagSpec] = field(default_factory=lambda: MappingProxyType({}))
    configured_at: float = float("-inf")

    def merged(self, event: TagsConfigured) -> PlantCatalogue:
        """This catalogue with ``event``'s tags (an older event than the one applied last
        changes only the tags it alone names)."""
        at = event.configured_at.timestamp()
        tags = dict(self.tags)
        for spec in event.tags:
            if at >= self.configured_at or spec.tag not in tags:
                tags[spec.tag] = spec
        return PlantCatalogue(MappingProxyType(tags), max(at, self.configured_at))

    def kinds(self, tags: list[str]) -> I64:
        """Per tag, the baseline kind the catalogue gives it (``UNKNOWN``: learn it)."""
        out = np.full(len(tags), UNKNOWN, dtype=np.int64)
        for i, tag in enumerate(tags):
            spec = self.tags.get(tag)
            if spec is not None and spec.kind is not None:
                out[i] = KINDS.index(spec.kind.value)
        return out

    def roles(self, tags: list[str]) -> list[str | None]:
        return [spec.role if (spec := self.tags.get(t)) is not None else None for t in tags]


EMPTY = PlantCatalogue()
