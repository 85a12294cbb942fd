"""Errors of the projections package; psycopg errors are translated into these in ``db``."""

from __future__ import annotations

from streams.errors import BiogasError


class ProjectionError(BiogasError):
    """Root of the projections subtree."""


class DatabaseUnavailableError(ProjectionError):
    """The database cannot be reached right now (transient: retry with backoff)."""


class LockTimeoutError(DatabaseUnavailableError):
    """A lock could not be taken within the statement's lock timeout (transient)."""


class MigrationError(ProjectionError):
    """A migration failed or the applied history does not match the files."""
