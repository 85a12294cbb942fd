"""``up``/``down``/``status`` of the local stack, with its state kept in a JSON file.

The state file records what *this* stack started (pid and start time of each server), so ``down``
stops exactly those processes and nothing else; servers named by the environment are used as they
are and never stopped.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from logio.topic_admin import ensure_topics
from projections.migrate import apply_migrations
from stack.errors import StackError
from stack.kafka import metadata_ok, start_kafka
from stack.kafka_jars import ensure_kafka_jars
from stack.postgres import start_postgres, stop_postgres
from stack.processes import ProcessRef, processes_under
from stack.settings import StackSettings
from streams.settings import DatabaseSettings, KafkaSettings
from streams.topics import Topics

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Component:
    """One server of the stack as ``status`` reports it."""

    name: str
    address: str
    managed: bool
    running: bool  # its process is alive and the server answers
    pid: int | None
    log_file: str | None
    alive: bool = False  # its process exists (running or not answering)


@dataclass(frozen=True)
class StackInfo:
    """What ``up`` and ``status`` report: connection settings and where logs are."""

    state_dir: Path
    kafka: Component
    postgres: Component

    @property
    def bootstrap_servers(self) -> str:
        return self.kafka.address

    @property
    def database_url(self) -> str:
        return self.postgres.address

    def env(self) -> dict[str, str]:
        """Environment variables that point every process at this stack."""
        return {
            "BIOGAS_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "BIOGAS_DATABASE_URL": self.database_url,
        }


def _state_file(settings: StackSettings) -> Path:
    return settings.dir / "state.json"


def _load(settings: StackSettings) -> dict[str, Any]:
    path = _state_file(settings)
    if not path.exists():
        return {}
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StackError(f"the stack state file {path} is unreadable ({exc}); "
                         "stop the servers by hand and delete it") from exc
    return data


def _save(settings: StackSettings, state: dict[str, Any]) -> None:
    path = _state_file(settings)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
    tmp.replace(path)


def _ref(entry: dict[str, Any] | None) -> ProcessRef | None:
    if not entry or entry.get("pid") is None:
        return None
    return ProcessRef(pid=int(entry["pid"]), create_time=float(entry["create_time"]))


def _external_kafka() -> str | None:
    kafka = KafkaSettings()
    return kafka.bootstrap_servers if "bootstrap_servers" in kafka.model_fields_set else None


def _external_database() -> str | None:
    database = DatabaseSettings()
    return database.url if "url" in database.model_fields_set else None


def _ours(address: str | None, entry: dict[str, Any] | None) -> str | None:
    """``address`` unless it is the one this stack's own server has (its own exports, read
    back from the environment of the shell they were exported into)."""
    entry = entry or {}
    if address is not None and not entry.get("external") and entry.get("address") == address:
        return None
    return address


def _not_in_use(name: str, home: Path, marker: str) -> None:
    """Refuse to start a server on ``home`` while one runs there already (one the state does
    not record, or its own that stopped answering): a second broker on the same data
    directory corrupts the first."""
    others = processes_under(home, marker)
    if others:
        pids = ", ".join(map(str, others))
        raise StackError(
            f"{name}: a server already runs on {home} (pid {pids}) but does not answer as "
            f"this stack's ({home.parent / 'state.json'}); stop it (kill "
            f"{' '.join(map(str, others))}) and run biogas stack up again")


def _stop_started(settings: StackSettings, state: dict[str, Any], started: list[str],
                  progress: Progress) -> None:
    """Stop the servers this call of ``up`` started (it failed), and forget their pids."""
    for name in started:
        entry = state.get(name) or {}
        ref = _ref(entry)
        if ref is None:
            continue
        progress(f"{name}: stopping pid {ref.pid} (stack up failed)")
        if name == "postgres":
            stop_postgres(Path(entry["data_dir"]), ref, settings.pg_user)
        else:
            ref.terminate(timeout_s=30)
        entry.pop("pid", None)
        entry.pop("create_time", None)
    _save(settings, state)


def up(settings: StackSettings, progress: Progress = lambda _msg: None) -> StackInfo:
    """Start whatever is not running yet (idempotent), apply migrations, report the settings.
    On failure, the servers this call started are stopped again."""
    settings.dir.mkdir(parents=True, exist_ok=True)
    settings.dir.chmod(0o755)
    state = _load(settings)
    ext_kafka = _ours(_external_kafka(), state.get("kafka"))
    ext_db = _ours(_external_database(), state.get("postgres"))
    started: list[str] = []

    def kafka_up() -> dict[str, Any]:
        if ext_kafka is not None:
            progress(f"kafka: using the broker named by the environment ({ext_kafka})")
            if not metadata_ok(ext_kafka, timeout_s=10):
                raise StackError(f"the broker named by BIOGAS_KAFKA_BOOTSTRAP_SERVERS "
                                 f"({ext_kafka}) does not answer a metadata request")
            return {"external": True, "address": ext_kafka}
        entry = state.get("kafka") or {}
        ref = _ref(entry)
        if ref is not None and ref.alive() and metadata_ok(entry["address"]):
            progress(f"kafka: already running at {entry['address']}")
            return dict(entry)
        _not_in_use("kafka", settings.dir / "kafka", "kafka.Kafka")
        lib = ensure_kafka_jars(settings.cache_dir, settings.kafka_version)
        progress(f"kafka: starting {settings.kafka_version} (KRaft)")
        previous = None
        if entry.get("address") and entry.get("controller_port"):
            previous = (int(entry["address"].rsplit(":", 1)[1]), int(entry["controller_port"]))
        server = start_kafka(settings.dir / "kafka", lib, settings.kafka_heap,
                             settings.start_timeout_s, ports=previous)
        started.append("kafka")
        return {"external": False, "address": server.bootstrap_servers,
                "controller_port": server.controller_port,
                "pid": server.process.pid, "create_time": server.process.create_time,
                "log_file": str(server.log_file)}

    def postgres_up() -> dict[str, Any]:
        if ext_db is not None:
            progress("postgres: using the database named by the environment")
            return {"external": True, "address": ext_db}
        entry = state.get("postgres") or {}
        ref = _ref(entry)
        if ref is not None and ref.alive():
            progress(f"postgres: already running at {entry['address']}")
            return dict(entry)
        _not_in_use("postgres", settings.dir / "postgres", "bin/postgres")
        progress("postgres: starting")
        previous = int(entry["address"].rsplit(":", 1)[1].split("/")[0]) \
            if entry.get("address") else None
        server = start_postgres(settings.dir / "postgres", settings.pg_user,
                                settings.start_timeout_s, port=previous)
        started.append("postgres")
        return {"external": False, "address": server.dsn, "pid": server.process.pid,
                "create_time": server.process.create_time, "log_file": str(server.log_file),
                "data_dir": str(server.data_dir)}

    with ThreadPoolExecutor(max_workers=2) as pool:
        kafka_future = pool.submit(kafka_up)
        pg_future = pool.submit(postgres_up)
        errors: list[BaseException] = []
        for name, future in (("kafka", kafka_future), ("postgres", pg_future)):
            exc = future.exception()
            if exc is None:
                state[name] = future.result()
            else:
                errors.append(exc)
    _save(settings, state)
    try:
        if errors:
            raise errors[0]
        progress("postgres: applying migrations")
        applied = apply_migrations(DatabaseSettings(url=state["postgres"]["address"]))
        if applied:
            progress(f"postgres: applied {', '.join(applied)}")
        created = asyncio.run(ensure_topics(
            KafkaSettings(bootstrap_servers=state["kafka"]["address"]), Topics()))
        if created:
            progress(f"kafka: created {len(created)} topics")
    except BaseException:
        _stop_started(settings, state, started, progress)
        raise
    return status(settings)


def _answers(name: str, address: str) -> bool:
    if name == "kafka":
        return metadata_ok(address, timeout_s=5)
    try:
        psycopg.connect(address, connect_timeout=5).close()
    except psycopg.Error:
        return False
    return True


def _component(name: str, entry: dict[str, Any] | None) -> Component:
    entry = entry or {}
    ref = _ref(entry)
    external = bool(entry.get("external"))
    if external:
        alive = running = name != "kafka" or metadata_ok(entry["address"])
    else:  # its process alive, and answering
        alive = ref is not None and ref.alive()
        running = alive and _answers(name, str(entry["address"]))
    return Component(name=name, address=str(entry.get("address", "")), managed=not external,
                     running=running, pid=ref.pid if ref else None,
                     log_file=entry.get("log_file"), alive=alive)


def status(settings: StackSettings) -> StackInfo:
    """What this stack runs now, read from its state file and checked against the processes."""
    state = _load(settings)
    return StackInfo(state_dir=settings.dir, kafka=_component("kafka", state.get("kafka")),
                     postgres=_component("postgres", state.get("postgres")))


def down(settings: StackSettings, progress: Progress = lambda _msg: None) -> list[str]:
    """Stop exactly the servers this stack started; returns a list of problems (empty = clean)."""
    state = _load(settings)
    problems: list[str] = []
    kafka = state.get("kafka") or {}
    ref = _ref(kafka)
    if ref is not None and not kafka.get("external"):
        progress(f"kafka: stopping pid {ref.pid}")
        if not ref.terminate(timeout_s=30):
            problems.append(f"kafka pid {ref.pid} did not stop")
    pg = state.get("postgres") or {}
    ref = _ref(pg)
    if ref is not None and not pg.get("external"):
        progress(f"postgres: stopping pid {ref.pid}")
        if not stop_postgres(Path(pg["data_dir"]), ref, settings.pg_user):
            problems.append(f"postgres pid {ref.pid} did not stop")
    if not problems:
        for name in ("kafka", "postgres"):
            entry = state.get(name)
            if entry:
                entry.pop("pid", None)
                entry.pop("create_time", None)
        if state:
            _save(settings, state)
    return problems
