"""``biogas tokens issue``: bearer tokens for the query API."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Annotated

import typer

from api.settings import ApiSettings
from api.tokens import Role, issue_token

tokens_app = typer.Typer(help="Bearer tokens for the query API.", no_args_is_help=True)


@tokens_app.command("issue")
def issue(
    subject: Annotated[str, typer.Option("--sub", help="Who the token is for, e.g. 'alice'.")],
    role: Annotated[Role, typer.Option(help="operator, technician, supervisor or owner.")],
    plants: Annotated[str, typer.Option(
        help="Comma-separated plant ids the token may see, or '*' for every plant.")],
    ttl_days: Annotated[float, typer.Option(min=0.001, help="Validity in days.")] = 30.0,
) -> None:
    """Print a token signed with BIOGAS_API_TOKEN_SECRET."""
    settings = ApiSettings()
    granted = tuple(p.strip() for p in plants.split(",") if p.strip())
    if not granted:
        print("error: --plants needs at least one plant id (or '*')", file=sys.stderr)
        raise typer.Exit(2)
    print(issue_token(settings.token_secret.get_secret_value(), subject, role, granted,
                      timedelta(days=ttl_days)))
