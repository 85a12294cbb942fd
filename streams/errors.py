"""The root of the project's error tree.

Each package defines its own subtree under :class:`BiogasError`; vendor exceptions are translated
into these at the boundary module that talks to the vendor library.
"""

from __future__ import annotations


class BiogasError(Exception):
    """Root of every error the project raises on purpose."""


class ConfigError(BiogasError):
    """A setting or configuration file is invalid; the message names the key and the fix."""


class ContractError(BiogasError):
    """An event does not satisfy the event contract (bad JSON, unknown type, invalid field)."""
