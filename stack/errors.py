"""Errors of the local stack launcher."""

from __future__ import annotations

from streams.errors import BiogasError


class StackError(BiogasError):
    """The local stack could not be started, stopped or inspected; the message says why."""
