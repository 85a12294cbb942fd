"""``biogas``: the project's single console script.

Each sub-command group lives in its own module under ``cli/`` and is listed in
:data:`COMMANDS`, imported only when it runs (or its own help is asked for): ``biogas
--help`` and ``biogas stack up`` do not load the ML stack that ``biogas eval`` needs.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, MutableMapping
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from streams.errors import ConfigError

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

#: sub-command -> (module, its Typer app or command function, one-line help as ``biogas
#: --help`` shows it; held equal to the module's own by a unit test)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "stack": ("cli.stack_cmd", "stack_app",
              "Run the local stack: a Kafka broker (KRaft) and PostgreSQL."),
    "contract": ("cli.contract_cmd", "contract_app",
                 "The event contract: the AsyncAPI document and the JSON-schema snapshot of "
                 "all events."),
    "topics": ("cli.topics_cmd", "topics_app", "The topic catalogue on the broker."),
    "projections": ("cli.projections_cmd", "projections_app",
                    "Materialise the log into PostgreSQL/TimescaleDB."),
    "tokens": ("cli.tokens_cmd", "tokens_app", "Bearer tokens for the query API."),
    "sim": ("cli.sim_cmd", "sim_app",
            "Plant simulator: AM2 process model behind a Modbus TCP server."),
    "edge": ("cli.edge_cmd", "edge_app",
             "The edge producer: Modbus polling, journal, forwarding, commissioning tools."),
    "agents": ("cli.agents_cmd", "agents_app", "Stream agents: features, detectors, alerts."),
    "models": ("cli.models_cmd", "models_app",
               "Model lifecycle: train, promote, deploy, shadow, rollback, drift."),
    "eval": ("cli.eval_cmd", "eval_app",
             "Detection quality: SKAB, NAB and simulator scenarios."),
    "rules": ("cli.rules_cmd", "rules_app", "Rules files: what detection learnt, for review."),
    "demo": ("cli.demo_cmd", "demo",
             "Bring the local stack up, run every service, print where to look; Ctrl-C stops "
             "all."),
    "api": ("cli.api_cmd", "api",
            "Serve the query API until interrupted (docs at /docs, plant page at "
            "/overview/<plant>)."),
    "tail": ("cli.tail_cmd", "tail_command",
             "Print the events of a topic as JSON lines (decoded and upcast by the contract) "
             "until interrupted (BIOGAS_KAFKA_*)."),
}


def load_command(name: str) -> Any:
    """The (Typer) click command of ``biogas NAME``, its module imported now, mounted as a
    sub-command of a Typer app as it would be in one eager app."""
    module, attribute, _ = COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    mount = typer.Typer(add_completion=False)
    if isinstance(target, typer.Typer):
        mount.add_typer(target, name=name)
        group = typer.main.get_command(mount)
        assert isinstance(group, TyperGroup)
        return group.commands[name]
    mount.command(name)(target)  # one command: Typer gives the command itself
    return typer.main.get_command(mount)


class LazyCommands(MutableMapping[str, Any]):
    """The root's sub-commands: every name of :data:`COMMANDS`, each loaded when first used."""

    def __init__(self) -> None:
        self._loaded: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._loaded:
            if name not in COMMANDS:
                raise KeyError(name)
            self._loaded[name] = load_command(name)
        return self._loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*COMMANDS, *self._loaded]))

    def __len__(self) -> int:
        return len(set(COMMANDS) | set(self._loaded))


class LazyGroup(TyperGroup):
    """``biogas``: sub-commands imported when used; the overview from :data:`COMMANDS`."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = LazyCommands()

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, text) for name, (_, _, text) in COMMANDS.items()])


def _version() -> str:
    try:
        return version("biogas-platform")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        print(f"biogas {_version()}")
        raise typer.Exit


app = typer.Typer(
    cls=LazyGroup,
    name="biogas",
    help="Biogas plant data platform: local stack, edge producer, agents, projections, API.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion, --show-completion
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # rich help would load every sub-command for its panels
)


@app.callback()
def _root(version: Annotated[bool, typer.Option(
        "--version", is_eager=True, callback=_print_version,
        help="Print the version and exit.")] = False) -> None:
    """Biogas plant data platform: local stack, edge producer, agents, projections, API."""


def _settings_classes() -> list[type[BaseSettings]]:
    from pydantic_settings import BaseSettings

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
        from streams.settings import InvalidSettingsError

        print(exc if isinstance(exc, InvalidSettingsError) else f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except Exception as exc:
        from pydantic import ValidationError

        from streams.settings import describe_invalid

        if not isinstance(exc, ValidationError):
            raise
        classes = _settings_classes()
        if not any(cls.__name__ == exc.title for cls in classes):
            raise
        print(describe_invalid(exc, classes), file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
