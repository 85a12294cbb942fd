"""The ``biogas`` command: sub-commands imported when used, an overview that matches them."""

from __future__ import annotations

import inspect
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
import typer

from cli.main import COMMANDS, load_command

ROOT = Path(__file__).resolve().parents[2]
#: what ``biogas --help`` must not load (the ML stack, the clients, the services)
HEAVY = {"numpy", "onnxruntime", "sklearn", "scipy", "numba", "faust", "aiokafka", "fastapi",
         "pydantic", "psycopg", "asyncpg", "river", "agents", "evaluation", "modelops",
         "simulator", "api", "edge_producer", "projections", "stack"}

PROBE = """
import sys
from cli.main import main
sys.argv = ["biogas", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print(" ".join(sorted({m.split(".")[0] for m in sys.modules})), file=sys.stderr)
"""


def loaded_by(*argv: str) -> tuple[str, set[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=True)
    return done.stdout, set(done.stderr.split())


def test_the_overview_loads_no_sub_command() -> None:
    out, modules = loaded_by("--help")
    assert all(name in out for name in COMMANDS)
    assert not modules & HEAVY, modules & HEAVY


def test_a_sub_command_loads_only_its_own_module() -> None:
    out, modules = loaded_by("stack", "--help")
    assert "up" in out and "down" in out
    assert "cli" in modules and not modules & {"numpy", "faust", "evaluation", "modelops"}


def _own_help(name: str) -> str:
    module, attribute, _ = COMMANDS[name]
    target = getattr(__import__(module, fromlist=[attribute]), attribute)
    text = target.info.help if isinstance(target, typer.Typer) else inspect.getdoc(target)
    assert isinstance(text, str), name
    return " ".join(text.split("\n\n")[0].split())


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_overview_line_is_the_commands_own_help_and_it_loads(name: str) -> None:
    assert COMMANDS[name][2] == _own_help(name)
    assert load_command(name).name == name


def test_version() -> None:
    out, _ = loaded_by("--version")
    assert out.strip() == f"biogas {version('biogas-platform')}"
