"""``biogas projections``: migrations, the live projector, and rebuild by replay."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from projections.migrate import apply_migrations
from projections.service import run_projector, run_rebuild
from projections.settings import ProjectorSettings
from streams.errors import BiogasError
from streams.settings import DatabaseSettings

projections_app = typer.Typer(help="Materialise the log into PostgreSQL/TimescaleDB.",
                              no_args_is_help=True)


def _fail(exc: Exception) -> typer.Exit:
    print(f"error: {exc}", file=sys.stderr)
    return typer.Exit(1)


@projections_app.command("migrate")
def migrate() -> None:
    """Apply pending migrations to BIOGAS_DATABASE_URL (schema BIOGAS_DATABASE_SCHEMA_NAME)."""
    settings = DatabaseSettings()
    try:
        applied = apply_migrations(settings)
    except (BiogasError, ValueError) as exc:
        raise _fail(exc) from exc
    print(f"applied: {', '.join(applied)}" if applied else "schema is up to date")


def _settings() -> ProjectorSettings:
    return ProjectorSettings()


@projections_app.command("run")
def run() -> None:
    """Project the log into the live projection version until SIGTERM/SIGINT.

    Configured by BIOGAS_PROJECTOR_* (group, topic prefix, batching), BIOGAS_KAFKA_* and
    BIOGAS_DATABASE_*; the schema must be migrated.
    """
    settings = _settings()
    try:
        run_projector(settings)
    except BiogasError as exc:
        raise _fail(exc) from exc


@projections_app.command("rebuild")
def rebuild(
    keep_old: Annotated[bool, typer.Option(
        help="Keep the previous version's tables after the swap.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Replay the log from the beginning into a new projection version beside the live one,
    compare, and swap the query views to it atomically."""
    settings = _settings()
    try:
        report = run_rebuild(settings, show_progress=progress, keep_old=keep_old)
    except BiogasError as exc:
        raise _fail(exc) from exc
    report.print()
