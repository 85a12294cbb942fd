"""docker-compose.yml stays valid: services, health checks, and commands that really exist.

No Docker engine runs where the tests run, so the file is checked structurally and every project
service's command is parsed by the real ``biogas`` command line.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.core
import typer.main
import yaml
from typer._click.core import Command, Context  # typer vendors click; its objects live here
from typer._click.exceptions import UsageError

from cli.main import app

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = {"redpanda", "timescaledb", "topics", "migrate", "simulator", "edge", "agents",
            "projector", "api", "prometheus", "grafana"}
#: the product services that serve /health and /metrics, and where (their settings' defaults)
OPS_PORTS = {"edge": 9108, "agents": 9110, "projector": 9111}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def _project_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in compose["services"].items() if "build" in svc}


def resolve(args: list[str]) -> Context:
    """Parse ``biogas ARGS`` with the real CLI without running it; raises on a bad command."""
    command: Command = typer.main.get_command(app)
    path: list[str] = []
    while isinstance(command, typer.core.TyperGroup) and args and not args[0].startswith("-"):
        sub = command.get_command(Context(command), args[0])
        if sub is None:
            raise UsageError(f"no command 'biogas {' '.join([*path, args[0]])}'")
        path.append(args.pop(0))
        command = sub
    return command.make_context("biogas " + " ".join(path), list(args))


def test_required_services_are_there(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) >= REQUIRED
    assert compose["services"]["redpanda"]["image"].startswith("redpandadata/redpanda:")
    assert compose["services"]["timescaledb"]["image"].startswith("timescale/timescaledb:")


def test_the_broker_keeps_what_it_acknowledges(compose: dict[str, Any]) -> None:
    """The log is the source of truth: no development mode (fsync bypassed, writes cached,
    topics created on first use) in the file that presents itself as the platform."""
    command = [str(part) for part in compose["services"]["redpanda"]["command"]]
    assert not any(part.startswith("--mode") for part in command), command
    assert "--unsafe-bypass-fsync" not in " ".join(command)
    assert not any("auto_create_topics_enabled=true" in part or "write_caching" in part
                   for part in command), command
    assert "topics" in compose["services"]  # topics are created on purpose


def test_every_project_command_exists_in_the_cli(compose: dict[str, Any]) -> None:
    cwd = Path.cwd()
    os.chdir(ROOT)  # paths in commands are relative to the image's workdir, the repo root here
    try:
        for name, svc in _project_services(compose).items():
            command = svc.get("command")
            assert isinstance(command, list) and command, f"{name} has no command list"
            resolve([str(part) for part in command])
    finally:
        os.chdir(cwd)


def test_a_bad_command_is_caught() -> None:
    with pytest.raises(UsageError):
        resolve(["no-such-command"])
    with pytest.raises(UsageError):
        resolve(["api", "--no-such-option", "1"])


def test_long_running_services_have_health_checks(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        one_shot = svc.get("restart") == "no"
        if not one_shot:
            assert "healthcheck" in svc, f"{name} has no healthcheck"
            assert svc["healthcheck"]["test"], name


def test_service_health_checks_ask_the_service_and_prometheus_scrapes_each(
        compose: dict[str, Any]) -> None:
    """A health check that only looks for a process matches its own command line (it always
    passes): each service's check asks its /health, where the service listens, on every
    interface, and Prometheus scrapes the same port."""
    from agents.settings import AgentsSettings
    from edge_producer.settings import EdgeSettings
    from projections.settings import ProjectorSettings

    defaults = {"edge": EdgeSettings.model_fields["metrics_port"].default,
                "agents": AgentsSettings.model_fields["metrics_port"].default,
                "projector": ProjectorSettings.model_fields["metrics_port"].default}
    assert defaults == OPS_PORTS
    prometheus = yaml.safe_load((ROOT / "configs" / "prometheus.yml").read_text())
    targets = {t for job in prometheus["scrape_configs"]
               for c in job["static_configs"] for t in c["targets"]}
    for name, port in OPS_PORTS.items():
        svc = compose["services"][name]
        check = " ".join(svc["healthcheck"]["test"])
        assert f"http://127.0.0.1:{port}/health" in check and "/proc/" not in check, name
        assert any(v == "0.0.0.0" for k, v in svc["environment"].items()
                   if k.endswith("_METRICS_HOST")), name
        assert f"{name}:{port}" in targets, name
    assert "api:8000" in targets  # the API's /metrics, beside its /health
    mounts = [v.split(":", 1)[0] for v in compose["services"]["prometheus"]["volumes"]]
    assert "./configs/prometheus.yml" in mounts


def test_dependencies_name_existing_services(compose: dict[str, Any]) -> None:
    services = set(compose["services"])
    for name, svc in compose["services"].items():
        for dep in svc.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown service {dep}"


def test_grafana_mounts_exist_in_the_repo(compose: dict[str, Any]) -> None:
    for volume in compose["services"]["grafana"]["volumes"]:
        source = volume.split(":", 1)[0]
        assert (ROOT / source).is_dir(), f"grafana mounts missing {source}"


def test_dockerfile_copies_every_package() -> None:
    """Every package the project installs is in the image (the CLI imports them all at
    start: one missing and no service starts), read from pyproject's package list."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in
                pyproject["tool"]["setuptools"]["packages"]["find"]["include"]]
    assert {"streams", "agents", "cli", "evaluation", "modelops"} <= set(packages)
    for package in packages:
        assert f"COPY {package} ./{package}" in dockerfile, package
