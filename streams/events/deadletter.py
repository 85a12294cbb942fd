"""A message that could not be processed, parked with its raw bytes and the reason."""

from __future__ import annotations

import base64
from typing import Annotated, Literal

from pydantic import Field

from streams.events.base import Base64Text, EventBase, Name, Text, UtcDatetime


class MessageDeadLettered(EventBase):
    """A worker gave up on a message permanently; the raw key and payload are kept (base64)."""

    event_type: Literal["message_dead_lettered"] = "message_dead_lettered"
    schema_version: Literal[1] = 1
    plant_id: Annotated[str, Field(max_length=256)] | None = Field(
        description="The plant the message seemed to belong to, if it could be told; "
        "kept as found, so not constrained like other plant ids."
    )
    source_topic: Name
    partition: Annotated[int, Field(ge=0)]
    offset: Annotated[int, Field(ge=0)]
    key: Base64Text | None = Field(description="Base64 of the raw message key, if any.")
    payload: Base64Text = Field(description="Base64 of the raw message value.")
    reason: Text
    error_type: Name
    dead_lettered_at: UtcDatetime
    by: Name = Field(description="Which worker dead-lettered the message.")

    @staticmethod
    def encode_bytes(raw: bytes) -> str:
        """Base64 text for a raw key or payload."""
        return base64.b64encode(raw).decode("ascii")

    def key_bytes(self) -> bytes | None:
        """The original message key."""
        return None if self.key is None else base64.b64decode(self.key)

    def payload_bytes(self) -> bytes:
        """The original message value."""
        return base64.b64decode(self.payload)
