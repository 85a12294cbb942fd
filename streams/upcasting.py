"""Upcasters: bring an event written with an older ``schema_version`` to the current one.

A breaking change to an event gets a new ``schema_version`` and one upcaster step per version:
a function from the raw dict at version ``n`` to the raw dict at version ``n + 1``. Steps run on
the decoded JSON before validation, so the models only ever describe the current version.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from streams.errors import UpcastError
from streams.events import EVENT_TYPES, schema_version_of

RawEvent = dict[str, Any]
UpcastStep = Callable[[RawEvent], RawEvent]


def current_versions() -> Mapping[str, int]:
    """event_type -> the ``schema_version`` the models describe today."""
    return MappingProxyType({t: schema_version_of(m) for t, m in EVENT_TYPES.items()})


class Upcasters:
    """A registry of upcast steps keyed by ``(event_type, from_version)``.

    ``versions`` gives each event type's current version (by default, the models' versions).
    """

    def __init__(self, versions: Mapping[str, int] | None = None) -> None:
        self._versions: Mapping[str, int] = (
            current_versions() if versions is None else MappingProxyType(dict(versions))
        )
        self._steps: dict[tuple[str, int], UpcastStep] = {}

    @property
    def versions(self) -> Mapping[str, int]:
        return self._versions

    def register(self, event_type: str, from_version: int, step: UpcastStep) -> None:
        """Add the step turning ``event_type`` at ``from_version`` into ``from_version + 1``."""
        current = self._versions.get(event_type)
        if current is None:
            raise UpcastError(f"cannot register an upcaster for unknown event type {event_type!r}")
        if not 0 <= from_version < current:
            raise UpcastError(
                f"an upcaster for {event_type} must start below the current version {current}, "
                f"got from_version={from_version}"
            )
        if (event_type, from_version) in self._steps:
            raise UpcastError(f"an upcaster for {event_type} v{from_version} is already registered")
        self._steps[(event_type, from_version)] = step

    def step(self, event_type: str, from_version: int) -> Callable[[UpcastStep], UpcastStep]:
        """Decorator form of :meth:`register`."""

        def decorate(step: UpcastStep) -> UpcastStep:
            self.register(event_type, from_version, step)
            return step

        return decorate

    def upcast(self, raw: RawEvent) -> RawEvent:
        """Apply the chain of steps until ``raw`` is at its type's current version.

        ``raw`` must carry a known ``event_type``; it is not modified. Each step's result gets
        ``schema_version`` set to the next version.
        """
        event_type = raw.get("event_type")
        if not isinstance(event_type, str) or event_type not in self._versions:
            raise UpcastError(f"cannot upcast an event of unknown type {event_type!r}")
        current = self._versions[event_type]
        version = raw.get("schema_version")
        if isinstance(version, bool) or not isinstance(version, int):
            raise UpcastError(
                f"{event_type} event needs an integer schema_version, got {version!r}"
            )
        if version > current:
            raise UpcastError(
                f"{event_type} schema_version {version} is newer than this code knows "
                f"(current {current}); upgrade the consumer"
            )
        while version < current:
            step = self._steps.get((event_type, version))
            if step is None:
                raise UpcastError(
                    f"no upcaster from {event_type} v{version} to v{version + 1}; "
                    f"register one to read version {version}"
                )
            try:
                raw = dict(step(dict(raw)))
            except (KeyError, TypeError, ValueError) as exc:
                raise UpcastError(
                    f"upcasting {event_type} v{version} to v{version + 1} failed: {exc!r}"
                ) from exc
            version += 1
            raw["schema_version"] = version
        return raw


def _anomaly_detected_v1(raw: RawEvent) -> RawEvent:
    """Version 2 names every model that voted (``models``) instead of one (``model``), and
    adds findings (none in version 1)."""
    model = raw.pop("model", None)
    raw["models"] = [] if model is None else [model]
    return raw


def _unchanged(raw: RawEvent) -> RawEvent:
    """A step whose new version only added optional fields."""
    return raw


#: The registry the codec uses.
DEFAULT_UPCASTERS = Upcasters()
DEFAULT_UPCASTERS.register("tags_configured", 1, _unchanged)  # + kind, role per tag
DEFAULT_UPCASTERS.register("anomaly_detected", 1, _anomaly_detected_v1)
DEFAULT_UPCASTERS.register("alert_opened", 1, _unchanged)
DEFAULT_UPCASTERS.register("alert_updated", 1, _unchanged)
