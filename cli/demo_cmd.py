"""``biogas demo``: the local stack plus every service of the product, until Ctrl-C."""

from __future__ import annotations

import signal
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from agents.worker.stall_watch import EXIT_STALLED
from api.tokens import Role, issue_token
from stack.launcher import StackInfo, down, status, up
from stack.secrets import stack_secret
from stack.settings import StackSettings
from stack.supervisor import Service, Supervisor
from streams.errors import BiogasError

DEMO_PLANT = Path(__file__).resolve().parent.parent / "configs" / "demo-plant.toml"
DEMO_PLANT_ID = "demo-plant"
#: simulated hours the agents learn the demo plant before judging it: its first day, which
#: the demo scenario keeps free of faults, and an hour
DEMO_COMMISSION_H = 25.0

def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def demo_services(state_dir: Path, api_port: int, modbus_port: int, sim_speed: float,
                  edge_metrics_port: int, agents_metrics_port: int = 9110,
                  projector_metrics_port: int = 9111) -> list[Service]:
    """The product's services in start order."""
    biogas = [sys.executable, "-m", "cli.main"]
    return [
        Service("simulator", [*biogas, "sim", "run", "--scenario", "demo", "--port",
                              str(modbus_port), "--speed", str(sim_speed)]),
        Service("edge", [*biogas, "edge", "run", "--config", str(DEMO_PLANT),
                         "--modbus-port", str(modbus_port),
                         "--journal", str(state_dir / "edge" / "journal.sqlite"),
                         "--metrics-port", str(edge_metrics_port)]),
        Service("agents", [*biogas, "agents", "worker"],
                {"BIOGAS_AGENTS_DATA_DIR": str(state_dir / "agents"),
                 # event time is wall time: a simulated day lasts 86400 / speed seconds
                 "BIOGAS_AGENTS_COMMISSION_S": str(round(DEMO_COMMISSION_H * 3600 / sim_speed)),
                 "BIOGAS_AGENTS_METRICS_PORT": str(agents_metrics_port)},
                restart_on=frozenset({EXIT_STALLED})),
        Service("projector", [*biogas, "projections", "run"],
                {"BIOGAS_PROJECTOR_INSTANCE_ID": "demo-projector",
                 "BIOGAS_PROJECTOR_METRICS_PORT": str(projector_metrics_port)}),
        Service("api", [*biogas, "api", "--port", str(api_port)]),
    ]


def demo(
    api_port: Annotated[int, typer.Option(help="Port of the query API.")] = 8000,
    modbus_port: Annotated[int, typer.Option(help="Port of the simulated plant's Modbus server.")]
    = 5020,
    sim_speed: Annotated[float, typer.Option(
        help="Simulated seconds per wall second: the plant's process runs this much faster.")]
    = 60.0,
    edge_metrics_port: Annotated[int, typer.Option(
        help="Port of the edge producer's /health and /metrics.")] = 9108,
    agents_metrics_port: Annotated[int, typer.Option(
        help="Port of the agents worker's /health and /metrics.")] = 9110,
    projector_metrics_port: Annotated[int, typer.Option(
        help="Port of the projector's /health and /metrics.")] = 9111,
    keep_stack: Annotated[bool, typer.Option(
        help="Leave the broker and database running after Ctrl-C.")] = False,
) -> None:
    """Bring the local stack up, run every service, print where to look; Ctrl-C stops all."""
    settings = StackSettings()
    was_running = status(settings)
    try:
        info = up(settings, progress=lambda m: _say(f"  {m}"))
    except BiogasError as exc:
        _say(f"error: {exc}")
        raise typer.Exit(1) from exc
    token_secret = stack_secret(settings.dir, "api-token-secret")
    owner_token = issue_token(token_secret, "demo", Role.OWNER, ("*",), timedelta(days=7))
    supervisor = Supervisor(settings.dir / "logs",
                            {**info.env(), "BIOGAS_API_TOKEN_SECRET": token_secret})
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    code = 0
    try:
        for service in demo_services(settings.dir, api_port, modbus_port, sim_speed,
                                     edge_metrics_port, agents_metrics_port,
                                     projector_metrics_port):
            running = supervisor.start(service)
            _say(f"  {service.name}: pid {running.proc.pid}, log {running.log_file}")
        _print_where_to_look(info, api_port, modbus_port,
                             (edge_metrics_port, agents_metrics_port, projector_metrics_port),
                             owner_token)
        while not stop.wait(0.5):
            if supervisor.restart_or_report(_say):
                code = 1
                break
    finally:
        _say("stopping services")
        stubborn = supervisor.stop_all()
        if stubborn:
            _say(f"error: did not stop: {', '.join(stubborn)}")
        already = was_running.kafka.running and was_running.postgres.running
        if not keep_stack and not already:
            for problem in down(settings, progress=lambda m: _say(f"  {m}")):
                _say(f"error: {problem}")
        else:
            _say("  stack left running (biogas stack down stops it)")
    raise typer.Exit(code)


def _print_where_to_look(info: StackInfo, api_port: int, modbus_port: int,
                         ops_ports: tuple[int, int, int], token: str) -> None:
    edge_port, agents_port, projector_port = ops_ports
    lines = [
        "",
        "biogas demo is running. Ctrl-C stops everything.",
        f"  plant overview:    http://127.0.0.1:{api_port}/overview/{DEMO_PLANT_ID}#token={token}",
        f"  API health:        http://127.0.0.1:{api_port}/health",
        f"  plant simulator:   Modbus TCP 127.0.0.1:{modbus_port} (units 1 PLC, 2 analyser, 3 CHP)",
        f"  edge producer:     http://127.0.0.1:{edge_port}/health and /metrics",
        f"  agents worker:     http://127.0.0.1:{agents_port}/health and /metrics",
        f"  projector:         http://127.0.0.1:{projector_port}/health and /metrics",
        f"  API docs:          http://127.0.0.1:{api_port}/docs",
        f"  Kafka bootstrap:   {info.bootstrap_servers}",
        f"  PostgreSQL:        {info.database_url}",
        f"  logs:              {info.state_dir / 'logs'}",
        "  alerts:            the agents learn the plant for its first simulated day "
        "(about 25 min at 60x), then",
        "                     the demo scenario's faults come every simulated day",
        f"  API token (owner, every plant, 7 days):\n    {token}",
        "",
    ]
    _say("\n".join(lines))
