"""What the ``biogas models`` commands share: their settings, and failing with a message."""

from __future__ import annotations

import typer
from rich.console import Console

from modelops.settings import ModelOpsSettings, load_settings
from streams.errors import ConfigError
from streams.logsetup import configure_logging

console = Console()
errors = Console(stderr=True)


def fail(message: str) -> typer.Exit:
    """Print ``message`` in red on stderr, unwrapped; the exit (code 2) to raise."""
    errors.print(message, style="red", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(2)


def settings() -> ModelOpsSettings:
    """The command's settings (logging configured), or exit 2 naming the bad variable."""
    try:
        loaded = load_settings()
    except ConfigError as exc:
        raise fail(str(exc)) from None
    configure_logging(loaded.log)
    return loaded
