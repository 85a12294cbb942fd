"""Apply the SQL migrations under ``projections/migrations`` to a schema, in order, once each.

Files are named ``NNNN_name.sql`` (the plain-PostgreSQL base) or ``NNNN_name.timescale.sql``
(the TimescaleDB layer, applied only when the extension is available on the server). Applied
migrations are recorded with a checksum in ``schema_migrations``; a changed file that was already
applied is an error, not a silent skip. An advisory lock serialises concurrent runs.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import psycopg

from projections.db import connect
from projections.errors import MigrationError
from streams.settings import DatabaseSettings

_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)(?P<ts>\.timescale)?\.sql$")
_LOCK_KEY = 0x62696F676173  # "biogas"


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: str
    name: str
    timescale: bool
    sql: str

    @property
    def ident(self) -> str:
        return f"{self.version}_{self.name}" + (".timescale" if self.timescale else "")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations() -> list[Migration]:
    """Every migration shipped with the package, in apply order."""
    found: list[Migration] = []
    for entry in resources.files("projections.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match is None:
            if entry.name.endswith(".sql"):
                raise MigrationError(f"migration file name {entry.name!r} does not match "
                                     "NNNN_name.sql or NNNN_name.timescale.sql")
            continue
        found.append(Migration(match["version"], match["name"], bool(match["ts"]),
                               entry.read_text()))
    found.sort(key=lambda m: (m.version, m.timescale))
    return found


def timescale_available(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone()
    return row is not None


def apply_migrations(settings: DatabaseSettings) -> list[str]:
    """Apply pending migrations to ``settings.schema_name``; returns the ones applied now."""
    applied_now: list[str] = []
    schema = settings.schema_name
    with connect(settings, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " ident text PRIMARY KEY, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())")
            done = dict(conn.execute("SELECT ident, checksum FROM schema_migrations").fetchall())
            with_timescale = timescale_available(conn)
            for migration in load_migrations():
                if migration.timescale and not with_timescale:
                    continue
                if migration.ident in done:
                    if done[migration.ident] != migration.checksum:
                        raise MigrationError(
                            f"migration {migration.ident} was changed after it was applied to "
                            f"schema {schema}; add a new migration instead of editing it")
                    continue
                try:
                    with conn.transaction():
                        conn.execute(migration.sql.encode())
                        conn.execute("INSERT INTO schema_migrations (ident, checksum) "
                                     "VALUES (%s, %s)", (migration.ident, migration.checksum))
                except psycopg.Error as exc:
                    raise MigrationError(f"migration {migration.ident} failed on schema "
                                         f"{schema}: {exc}") from exc
                applied_now.append(migration.ident)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now
