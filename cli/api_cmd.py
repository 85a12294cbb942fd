"""``biogas api``: serve the query API with uvicorn."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
import uvicorn

from api.app import create_app
from api.settings import ApiSettings
from streams.errors import ConfigError
from streams.logsetup import configure_logging, get_logger


def api(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (default 8000).")] = None,
) -> None:
    """Serve the query API until interrupted (docs at /docs, plant page at /overview/<plant>)."""
    overrides: dict[str, object] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    settings = ApiSettings(**overrides)  # type: ignore[arg-type]
    configure_logging(settings.log)
    try:
        app = create_app(settings)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from exc
    base = f"http://{settings.host}:{settings.port}"
    get_logger("api").info("api_listening", docs=f"{base}/docs",
                           overview=f"{base}/overview/<plant>#token=<token>")
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False)
