"""The topic catalogue: every topic's name, key, partitions, retention and event types.

Topic names are ``plant.<stream>.v<major>``. A :class:`Topics` catalogue may carry a name prefix
so that separate deployments (or test runs) get their own topics on one broker.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from streams.errors import ContractError, UnknownTopicError
from streams.events import EVENT_TYPES, EventBase, ModelDeployed

_DAY_MS = 24 * 60 * 60 * 1000
_KEEP_FOREVER: Mapping[str, str] = MappingProxyType(
    {"cleanup.policy": "delete", "retention.ms": "-1"}
)
_PREFIX_RE = re.compile(r"^[A-Za-z0-9._-]*$")
_MAX_TOPIC_NAME = 249


class Stream(StrEnum):
    """The streams of the log; each has exactly one topic."""

    SCANS = "scans"
    DEVICE_STATUS = "device-status"
    HEARTBEATS = "heartbeats"
    TAG_CATALOGUE = "tag-catalogue"
    FEATURES = "features"
    ANOMALIES = "anomalies"
    ALERTS = "alerts"
    ALERT_COMMANDS = "alert-commands"
    LAB_RESULTS = "lab-results"
    MODEL_DEPLOYMENTS = "model-deployments"
    MODEL_DRIFT = "model-drift"
    MODEL_SHADOW = "model-shadow"
    DEADLETTER = "deadletter"


@dataclass(frozen=True)
class TopicSpec:
    """One topic: its full name, the event field its key comes from, and how the broker keeps it.

    ``config`` holds Kafka topic configs as strings (``retention.ms``, ``cleanup.policy``, ...).
    """

    stream: Stream
    name: str
    key_field: str
    partitions: int
    config: Mapping[str, str]
    event_types: frozenset[str]
    description: str = ""


def _spec(
    stream: Stream,
    event_types: set[str],
    *,
    partitions: int,
    config: Mapping[str, str],
    description: str,
    key_field: str = "plant_id",
) -> TopicSpec:
    return TopicSpec(
        stream=stream,
        name=f"plant.{stream}.v1",
        key_field=key_field,
        partitions=partitions,
        config=MappingProxyType(dict(config)),
        event_types=frozenset(event_types),
        description=description,
    )


def _retain_days(days: int) -> Mapping[str, str]:
    return {"cleanup.policy": "delete", "retention.ms": str(days * _DAY_MS)}


#: The catalogue without a prefix, in a stable order.
CATALOGUE: tuple[TopicSpec, ...] = (
    _spec(Stream.SCANS, {"scan_recorded"}, partitions=6, config=_KEEP_FOREVER,
          description="Every Modbus poll of every poll group; the source of truth for readings."),
    _spec(Stream.DEVICE_STATUS, {"device_status_changed"}, partitions=3, config=_KEEP_FOREVER,
          description="Device link state changes seen by the edge producers."),
    _spec(Stream.HEARTBEATS, {"edge_heartbeat"}, partitions=3, config=_retain_days(7),
          description="Edge producer liveness and journal backlog."),
    _spec(Stream.TAG_CATALOGUE, {"tags_configured"}, partitions=3, config=_KEEP_FOREVER,
          description="The tag catalogue of each edge producer: units, ranges, poll intervals."),
    _spec(Stream.FEATURES, {"features_computed"}, partitions=6, config=_retain_days(7),
          description="Rolling features per tag and per plant; recomputable from scans."),
    _spec(Stream.ANOMALIES, {"anomaly_detected"}, partitions=3, config=_KEEP_FOREVER,
          description="Anomalies voted by the detectors."),
    _spec(Stream.ALERTS, {"alert_opened", "alert_updated", "alert_cleared"}, partitions=3,
          config=_KEEP_FOREVER, description="The alert lifecycle as decided by the alert agent."),
    _spec(Stream.ALERT_COMMANDS, {"alert_acknowledged", "alert_commented"}, partitions=3,
          config=_KEEP_FOREVER, description="Acknowledgements and comments from the API."),
    _spec(Stream.LAB_RESULTS, {"lab_result_recorded"}, partitions=6, config=_KEEP_FOREVER,
          description="Laboratory results recorded through the API; co-partitioned with the "
          "scans (same key, same partition count), so a plant's results reach the worker "
          "that holds its scans."),
    _spec(Stream.MODEL_DEPLOYMENTS, {"model_deployed"}, partitions=1,
          config={"cleanup.policy": "compact"}, key_field="model_id",
          description="Signed model deployments, compacted to the latest one per model, plant "
          "scope and role (key 'model_id' or 'model_id@plant_id', with '#shadow' for a "
          "shadow; a tombstone under a shadow's key ends it)."),
    _spec(Stream.MODEL_DRIFT, {"model_drift_measured"}, partitions=3, config=_KEEP_FOREVER,
          description="Drift of each deployed model's inputs per plant and window (PSI per "
          "feature against the training distribution)."),
    _spec(Stream.MODEL_SHADOW, {"model_shadow_compared"}, partitions=3, config=_KEEP_FOREVER,
          description="How shadow models' decisions compared with the live ones, per plant, "
          "stream and window."),
    _spec(Stream.DEADLETTER, {"message_dead_lettered"}, partitions=3, config=_retain_days(30),
          description="Messages a worker gave up on, with their raw bytes and the reason."),
)


SHADOW_SUFFIX = "#shadow"


def deployment_key(model_id: str, plant_id: str | None, role: str = "live") -> str:
    """The key of a model deployment: ``model_id`` (every plant) or ``model_id@plant_id``,
    followed by ``#shadow`` for a shadow deployment."""
    scope = "" if plant_id is None else f"@{plant_id}"
    return f"{model_id}{scope}{SHADOW_SUFFIX if role == 'shadow' else ''}"


def parse_deployment_key(key: str) -> tuple[str, str | None, str]:
    """``(model_id, plant_id, role)`` of a deployment key (the inverse of
    :func:`deployment_key`)."""
    role = "shadow" if key.endswith(SHADOW_SUFFIX) else "live"
    base = key.removesuffix(SHADOW_SUFFIX)
    model_id, _, plant_id = base.partition("@")
    return model_id, plant_id or None, role


def _check_catalogue(specs: tuple[TopicSpec, ...]) -> None:
    routed = [t for spec in specs for t in spec.event_types]
    if sorted(routed) != sorted(EVENT_TYPES):
        raise ContractError(
            "topic catalogue must route every event type to exactly one topic; "
            f"routed {sorted(routed)}, known {sorted(EVENT_TYPES)}"
        )


_check_catalogue(CATALOGUE)


class Topics:
    """The topic catalogue, optionally with a name prefix (``Topics(prefix="t_ab12.")``)."""

    def __init__(self, prefix: str = "") -> None:
        if not _PREFIX_RE.match(prefix):
            raise ContractError(
                f"topic prefix {prefix!r} may only hold letters, digits, '.', '_' and '-'"
            )
        longest = max(len(spec.name) for spec in CATALOGUE)
        if len(prefix) + longest > _MAX_TOPIC_NAME:
            raise ContractError(f"topic prefix {prefix!r} makes topic names longer than 249")
        self._prefix = prefix
        self._by_stream: dict[Stream, TopicSpec] = {
            spec.stream: dataclasses.replace(spec, name=prefix + spec.name) for spec in CATALOGUE
        }
        self._by_event_type: dict[str, TopicSpec] = {
            t: spec for spec in self._by_stream.values() for t in spec.event_types
        }

    @property
    def prefix(self) -> str:
        return self._prefix

    def __repr__(self) -> str:
        return f"Topics(prefix={self._prefix!r})"

    def __iter__(self) -> Iterator[TopicSpec]:
        return iter(self._by_stream.values())

    def __len__(self) -> int:
        return len(self._by_stream)

    def __getitem__(self, stream: Stream | str) -> TopicSpec:
        """The topic of a stream, e.g. ``topics["scans"]`` or ``topics[Stream.SCANS]``."""
        try:
            return self._by_stream[Stream(stream)]
        except ValueError:
            known = ", ".join(s.value for s in Stream)
            raise UnknownTopicError(f"no stream {stream!r}; known streams: {known}") from None

    def name(self, stream: Stream | str) -> str:
        """The full topic name of a stream."""
        return self[stream].name

    def names(self) -> tuple[str, ...]:
        """Every full topic name, in catalogue order."""
        return tuple(spec.name for spec in self)

    def by_name(self, name: str) -> TopicSpec:
        """The topic with this full name."""
        for spec in self:
            if spec.name == name:
                return spec
        raise UnknownTopicError(f"no topic named {name!r} in {self!r}")

    def topic_for(self, event: EventBase | str) -> TopicSpec:
        """The topic an event (or an ``event_type``) is appended to."""
        event_type = event if isinstance(event, str) else event.event_type
        try:
            return self._by_event_type[event_type]
        except KeyError:
            known = ", ".join(sorted(self._by_event_type))
            raise UnknownTopicError(
                f"no topic for event type {event_type!r}; known event types: {known}"
            ) from None

    def key_for(self, event: EventBase) -> bytes:
        """The Kafka message key of an event (UTF-8).

        Plant-keyed events use ``plant_id`` so all of a plant's events stay in order in one
        partition; a dead letter whose plant is unknown gets the empty key. Model deployments
        are keyed by :func:`deployment_key`, so compaction keeps the latest deployment per
        model, plant scope and role.
        """
        if isinstance(event, ModelDeployed):
            return deployment_key(event.model_id, event.plant_id, event.role).encode()
        spec = self.topic_for(event)
        value = getattr(event, spec.key_field)
        return b"" if value is None else str(value).encode()
