"""One JSON-schema document of every event, kept under review as a snapshot.

Any change to an event model changes this document, so the change shows up as a diff.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import TypeAdapter

from streams.events import Event

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def events_json_schema() -> dict[str, Any]:
    """The JSON schema of :data:`streams.events.Event` (a ``oneOf`` keyed by ``event_type``)."""
    schema: dict[str, Any] = TypeAdapter(Event).json_schema(mode="validation")
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": "Event",
        "description": "Every event on the biogas plant log, discriminated by event_type.",
        **schema,
    }


def render_document(document: dict[str, Any]) -> str:
    """A generated document as text: sorted keys, two-space indent, trailing newline."""
    return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"
