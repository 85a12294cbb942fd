"""What the ``biogas models`` commands share: their settings, and failing with a message."""

from __future__ import annotations

import typer
from rich.console import Console

from modelops.settings import ModelOpsSettings, load_settings
from streams.errors import ConfigError
from streams.logsetup import configure_logging

console = Console()


def fail(message: str) -> typer.Exit:
    """Print ``message`` in red; the exit (code 2) to raise."""
    console.print(f"[red]{message}[/red]")
    return typer.Exit(2)


def settings() -> ModelOpsSettings:
    """The command's settings (logging configured), or exit 2 naming the bad variable."""
    try:
        loaded = load_settings()
    except ConfigError as exc:
        raise fail(str(exc)) from None
    configure_logging(loaded.log)
    return loaded
