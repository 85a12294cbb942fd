"""``biogas``: the project's single console script.

Each sub-command group lives in its own module under ``cli/`` and is registered here.
"""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from cli.agents_cmd import agents_app
from cli.api_cmd import api
from cli.contract_cmd import contract_app
from cli.demo_cmd import demo
from cli.edge_cmd import edge_app
from cli.eval_cmd import eval_app
from cli.models_cmd import models_app
from cli.projections_cmd import projections_app
from cli.rules_cmd import rules_app
from cli.sim_cmd import sim_app
from cli.stack_cmd import stack_app
from cli.tokens_cmd import tokens_app
from cli.topics_cmd import topics_app
from streams.errors import ConfigError
from streams.settings import describe_invalid

app = typer.Typer(
    name="biogas",
    help="Biogas plant data platform: local stack, edge producer, agents, projections, API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(stack_app, name="stack")
app.add_typer(contract_app, name="contract")
app.add_typer(topics_app, name="topics")
app.add_typer(projections_app, name="projections")
app.add_typer(tokens_app, name="tokens")
app.add_typer(sim_app, name="sim")
app.add_typer(edge_app, name="edge")
app.add_typer(agents_app, name="agents")
app.add_typer(models_app, name="models")
app.add_typer(eval_app, name="eval")
app.add_typer(rules_app, name="rules")
app.command("demo")(demo)
app.command("api")(api)


def _settings_classes() -> list[type[BaseSettings]]:
    found: list[type[BaseSettings]] = []
    todo = list(BaseSettings.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def main() -> None:
    """Console-script entry point. An invalid setting, in whichever command reads it, ends the
    command with one line per bad variable naming the fix (exit 2), not a traceback; so does
    a configuration file a setting names that cannot be used (``ConfigError``)."""
    try:
        app()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except ValidationError as exc:
        classes = _settings_classes()
        if not any(cls.__name__ == exc.title for cls in classes):
            raise
        print(describe_invalid(exc, classes), file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
