"""``biogas contract``: generate and check the documents derived from the event contract."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from streams.asyncapi import asyncapi_document
from streams.schema_snapshot import events_json_schema, render_document

REPO_ROOT = Path(__file__).resolve().parent.parent
ASYNCAPI_PATH = REPO_ROOT / "docs" / "asyncapi.json"
SCHEMA_SNAPSHOT_PATH = REPO_ROOT / "tests" / "unit" / "snapshots" / "events.schema.json"

contract_app = typer.Typer(
    help="The event contract: the AsyncAPI document and the JSON-schema snapshot of all events.",
    no_args_is_help=True,
)

WriteOption = Annotated[bool, typer.Option("--write", help="Write the document to PATH.")]
CheckOption = Annotated[
    bool, typer.Option("--check", help="Exit 1 when PATH differs from the generated document.")
]


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _run(render: Callable[[], str], path: Path, command: str, *, write: bool, check: bool) -> None:
    if write and check:
        typer.echo("give at most one of --write and --check", err=True)
        raise typer.Exit(2)
    text = render()
    if write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {_relative(path)}")
    elif check:
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            reason = "is missing" if current is None else "is out of date with the event models"
            typer.echo(f"{_relative(path)} {reason}; regenerate it with: {command}", err=True)
            raise typer.Exit(1)
        typer.echo(f"{_relative(path)} is up to date")
    else:
        typer.echo(text, nl=False)


@contract_app.command("asyncapi")
def asyncapi(
    write: WriteOption = False,
    check: CheckOption = False,
    path: Annotated[Path, typer.Option(help="Where the document lives.")] = ASYNCAPI_PATH,
) -> None:
    """Print, write or check the AsyncAPI 3.0.0 document of the topics and events."""
    _run(
        lambda: render_document(asyncapi_document()),
        path,
        "biogas contract asyncapi --write",
        write=write,
        check=check,
    )


@contract_app.command("schema")
def schema(
    write: WriteOption = False,
    check: CheckOption = False,
    path: Annotated[Path, typer.Option(help="Where the snapshot lives.")] = SCHEMA_SNAPSHOT_PATH,
) -> None:
    """Print, write or check the JSON-schema snapshot of every event."""
    _run(
        lambda: render_document(events_json_schema()),
        path,
        "biogas contract schema --write",
        write=write,
        check=check,
    )
