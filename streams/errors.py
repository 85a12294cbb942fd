"""The root of the project's error tree.

Each package defines its own subtree under :class:`BiogasError`; vendor exceptions are translated
into these at the boundary module that talks to the vendor library.
"""

from __future__ import annotations

from collections.abc import Iterable


class BiogasError(Exception):
    """Root of every error the project raises on purpose."""


class ConfigError(BiogasError):
    """A setting or configuration file is invalid; the message names the key and the fix."""


class ContractError(BiogasError):
    """An event does not satisfy the event contract (bad JSON, unknown type, invalid field)."""


class MalformedEventError(ContractError):
    """The bytes are not a JSON object with an ``event_type`` string."""


class UnknownEventTypeError(ContractError):
    """The ``event_type`` is not one this code knows."""

    def __init__(self, event_type: str, known: Iterable[str]) -> None:
        self.event_type = event_type
        self.known: tuple[str, ...] = tuple(sorted(known))
        super().__init__(
            f"unknown event_type {event_type!r}; known event types: {', '.join(self.known)}"
        )


class InvalidEventError(ContractError):
    """The event has a known type but its fields break the contract.

    ``problems`` lists one readable line per problem, each starting with the field path
    (``readings.0.value: ...``).
    """

    def __init__(self, event_type: str, problems: Iterable[str]) -> None:
        self.event_type = event_type
        self.problems: tuple[str, ...] = tuple(problems)
        super().__init__(f"invalid {event_type} event: " + "; ".join(self.problems))


class UpcastError(ContractError):
    """An event's ``schema_version`` cannot be brought to the current version."""


class UnknownTopicError(ContractError):
    """A stream, topic name or event type that has no topic in the catalogue."""
