"""The wire format: events as JSON objects (orjson), readable by any Kafka client.

``decode`` parses, upcasts older schema versions, and validates through the one discriminated
union :data:`streams.events.Event`. Every failure is a :class:`streams.errors.ContractError`.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from streams.errors import InvalidEventError, MalformedEventError, UnknownEventTypeError
from streams.events import EVENT_TYPES, Event, EventBase
from streams.events.base import ENVELOPE_FIELDS
from streams.upcasting import DEFAULT_UPCASTERS, Upcasters

_EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
_ENVELOPE_DEFAULTED = frozenset(ENVELOPE_FIELDS) - {"event_type"}


def encode(event: EventBase) -> bytes:
    """The event as compact UTF-8 JSON."""
    return orjson.dumps(event.model_dump(mode="json"))


def decode(data: bytes | bytearray | memoryview | str, *,
           upcasters: Upcasters = DEFAULT_UPCASTERS) -> Event:
    """Parse, upcast and validate one event.

    Raises :class:`MalformedEventError` (not a JSON object, no ``event_type``),
    :class:`UnknownEventTypeError`, :class:`streams.errors.UpcastError` or
    :class:`InvalidEventError`.
    """
    if upcasters is DEFAULT_UPCASTERS:
        fast = _validate_current(data)
        if fast is not None:
            return fast
    raw = _parse(data)
    event_type = raw["event_type"]
    if event_type not in EVENT_TYPES:
        raise UnknownEventTypeError(event_type, EVENT_TYPES)
    raw = upcasters.upcast(raw)
    missing = [f"{name}: field required" for name in ENVELOPE_FIELDS if name not in raw]
    if missing:
        raise InvalidEventError(event_type, missing)
    return validate(raw)


def _validate_current(data: bytes | bytearray | memoryview | str) -> Event | None:
    """The event when ``data`` is a valid event of a current schema version that carries its
    whole envelope, parsed and validated in one native pass; None otherwise (the caller then
    takes the path that upcasts and names every problem)."""
    try:
        event = _EVENT_ADAPTER.validate_json(bytes(data) if isinstance(data, memoryview)
                                             else data)
    except ValidationError:
        return None
    # defaults must not stand in for a missing envelope (event_type selected the type)
    return event if event.model_fields_set >= _ENVELOPE_DEFAULTED else None


def validate(raw: dict[str, Any]) -> Event:
    """Validate an already parsed, current-version event dict."""
    try:
        return _EVENT_ADAPTER.validate_python(raw)
    except ValidationError as exc:
        event_type = str(raw.get("event_type", "?"))
        raise InvalidEventError(event_type, _problems(exc.errors())) from exc


def _parse(data: bytes | bytearray | memoryview | str) -> dict[str, Any]:
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise MalformedEventError(f"event is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise MalformedEventError(f"event must be a JSON object, got {type(raw).__name__}")
    event_type = raw.get("event_type")
    if not isinstance(event_type, str):
        raise MalformedEventError(
            f"event must have a string 'event_type', got {event_type!r}"
        )
    return raw


def _problems(errors: list[ErrorDetails]) -> list[str]:
    """One ``path: message`` line per error.

    The union tag (the event_type) is dropped from paths. A tuple whose items failed also
    reports "too short" (it counts only the valid items); that echo is left out.
    """
    located = []
    for error in errors:
        loc = error["loc"]
        located.append((loc[1:] if loc and loc[0] in EVENT_TYPES else loc, error))
    failed_items = {
        loc[:i] for loc, _ in located for i, part in enumerate(loc) if isinstance(part, int)
    }
    lines = []
    for loc, error in located:
        if error["type"] == "too_short" and loc in failed_items:
            continue
        path = ".".join(str(part) for part in loc) or "(event)"
        lines.append(f"{path}: {error['msg']}")
    return lines
