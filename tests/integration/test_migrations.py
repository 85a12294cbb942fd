"""Migrations on the real database: they apply, twice without error, and guard their history."""

from __future__ import annotations

import psycopg
import pytest

from projections.errors import MigrationError
from projections.migrate import apply_migrations, load_migrations
from streams.settings import DatabaseSettings


def _tables(settings: DatabaseSettings) -> set[str]:
    with psycopg.connect(settings.url) as conn:
        rows = conn.execute("SELECT table_name FROM information_schema.tables "
                            "WHERE table_schema = %s", (settings.schema_name,)).fetchall()
    return {r[0] for r in rows}


def test_migrations_apply_twice_without_error(database: DatabaseSettings) -> None:
    # The fixture applied them once already; a second and third run change nothing.
    assert apply_migrations(database) == []
    assert apply_migrations(database) == []
    tables = _tables(database)
    assert {"schema_migrations", "projection_offsets"} <= tables
    with psycopg.connect(database.url) as conn:
        applied = {r[0] for r in conn.execute(
            f'SELECT ident FROM "{database.schema_name}".schema_migrations').fetchall()}
    base = {m.ident for m in load_migrations() if not m.timescale}
    assert base <= applied


def test_an_edited_applied_migration_is_refused(database: DatabaseSettings) -> None:
    first = load_migrations()[0]
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute(f'UPDATE "{database.schema_name}".schema_migrations SET checksum = %s '
                     "WHERE ident = %s", ("0" * 64, first.ident))
    with pytest.raises(MigrationError, match=first.ident):
        apply_migrations(database)
