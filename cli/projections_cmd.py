"""``biogas projections``: the projection database (migrations today)."""

from __future__ import annotations

import sys

import typer

from projections.migrate import apply_migrations
from streams.errors import BiogasError
from streams.settings import DatabaseSettings

projections_app = typer.Typer(help="Materialise the log into PostgreSQL/TimescaleDB.",
                              no_args_is_help=True)


@projections_app.command("migrate")
def migrate() -> None:
    """Apply pending migrations to BIOGAS_DATABASE_URL (schema BIOGAS_DATABASE_SCHEMA_NAME)."""
    try:
        settings = DatabaseSettings()
        applied = apply_migrations(settings)
    except (BiogasError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from exc
    print(f"applied: {', '.join(applied)}" if applied else "schema is up to date")
