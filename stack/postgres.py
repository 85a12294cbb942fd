"""Run a PostgreSQL server (15 or newer) on loopback, dropping privileges when run as root."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from stack.errors import StackError
from stack.processes import ProcessRef, free_port, port_open, wait_until

MIN_MAJOR = 15
DB_NAME = "biogas"
DB_USER = "biogas"


@dataclass(frozen=True)
class PostgresServer:
    """A running server this stack started."""

    dsn: str
    process: ProcessRef
    log_file: Path
    data_dir: Path


def find_bin_dir() -> Path:
    """The bin directory of the newest PostgreSQL (>= 15) server installation."""
    candidates: list[tuple[int, Path]] = []
    for initdb in Path("/usr/lib/postgresql").glob("*/bin/initdb"):
        major = initdb.parent.parent.name
        if major.isdigit():
            candidates.append((int(major), initdb.parent))
    on_path = shutil.which("initdb")
    if on_path:
        real = Path(on_path).resolve().parent
        version = _major_version(real)
        if version is not None:
            candidates.append((version, real))
    usable = sorted((c for c in candidates if c[0] >= MIN_MAJOR), reverse=True)
    if not usable:
        raise StackError(
            f"no PostgreSQL server >= {MIN_MAJOR} found (looked for initdb on PATH and in "
            "/usr/lib/postgresql/*/bin); install one (apt-get install postgresql) or run "
            "./dev setup, or set BIOGAS_DATABASE_URL to an existing database"
        )
    return usable[0][1]


def _major_version(bin_dir: Path) -> int | None:
    try:
        out = subprocess.run([str(bin_dir / "initdb"), "--version"], capture_output=True,
                             text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    digits = out.strip().split()[-1].split(".")[0]
    return int(digits) if digits.isdigit() else None


@dataclass(frozen=True)
class _RunAs:
    """Who runs the server: ourselves, or an unprivileged user when we are root."""

    user: str | None

    def run(self, cmd: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ)
        extra: dict[str, object] = {}
        if self.user is not None:
            info = pwd.getpwnam(self.user)
            env.update(HOME=info.pw_dir, USER=self.user, LOGNAME=self.user)
            extra = {"user": info.pw_uid, "group": info.pw_gid, "extra_groups": []}
        return subprocess.run(  # type: ignore[call-overload, no-any-return]
            list(cmd), capture_output=True, text=True, check=False, env=env, cwd="/",
            **extra, **kwargs,
        )

    def own(self, path: Path) -> None:
        if self.user is not None:
            info = pwd.getpwnam(self.user)
            os.chown(path, info.pw_uid, info.pw_gid)


def _run_as(pg_user: str) -> _RunAs:
    if os.geteuid() != 0:
        return _RunAs(None)
    try:
        pwd.getpwnam(pg_user)
    except KeyError:
        created = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", pg_user],
            capture_output=True, text=True, check=False,
        )
        if created.returncode != 0:
            raise StackError(
                f"running as root, PostgreSQL must run as an unprivileged user, and user "
                f"'{pg_user}' does not exist and could not be created: {created.stderr.strip()}; "
                "set BIOGAS_STACK_PG_USER to an existing user"
            ) from None
    return _RunAs(pg_user)


def _checked(result: subprocess.CompletedProcess[str], what: str, log: Path | None) -> None:
    if result.returncode != 0:
        where = f"; see {log}" if log is not None else ""
        raise StackError(
            f"{what} failed (exit {result.returncode}): "
            f"{(result.stdout + result.stderr).strip()[-2000:]}{where}"
        )


def start_postgres(home: Path, pg_user: str, timeout_s: float,
                   port: int | None = None) -> PostgresServer:
    """Initialise (first time), start the server, and create the project's database."""
    bin_dir = find_bin_dir()
    runner = _run_as(pg_user)
    home.mkdir(parents=True, exist_ok=True)
    data_dir, run_dir = home / "data", home / "run"
    log_file = run_dir / "postgres.log"
    for path in (run_dir,):
        path.mkdir(exist_ok=True)
        runner.own(path)
    if runner.user is not None:
        check = runner.run(["test", "-w", str(run_dir)])
        if check.returncode != 0:
            raise StackError(
                f"user '{runner.user}' cannot write {run_dir}: every parent directory of the "
                "stack directory must be traversable by it; set BIOGAS_STACK_DIR to a path "
                "such as /var/lib/biogas/stack"
            )
    if not (data_dir / "PG_VERSION").exists():
        data_dir.mkdir(mode=0o700, exist_ok=True)
        runner.own(data_dir)
        _checked(runner.run([str(bin_dir / "initdb"), "-D", str(data_dir), "-U", DB_USER,
                             "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]),
                 "initdb", None)
    if port is None or port_open("127.0.0.1", port):
        port = free_port()
    options = (f"-c listen_addresses=127.0.0.1 -p {port} -k {run_dir} "
               "-c max_connections=200 -c shared_buffers=256MB -c fsync=on")
    started = runner.run([str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-l", str(log_file),
                          "-o", options, "-w", "-t", str(int(timeout_s)), "start"])
    _checked(started, "starting PostgreSQL", log_file)
    pid = _postmaster_pid(data_dir)
    if pid is None:
        raise StackError(f"PostgreSQL started but {data_dir}/postmaster.pid is unreadable")
    ref = ProcessRef.of(pid)
    dsn = f"postgresql://{DB_USER}@127.0.0.1:{port}/{DB_NAME}"
    _create_database(port)
    return PostgresServer(dsn=dsn, process=ref, log_file=log_file, data_dir=data_dir)


def _postmaster_pid(data_dir: Path) -> int | None:
    try:
        first = (data_dir / "postmaster.pid").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return int(first) if first.strip().isdigit() else None


def _create_database(port: int) -> None:
    import psycopg

    admin = f"postgresql://{DB_USER}@127.0.0.1:{port}/postgres"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                  (DB_NAME,)).fetchone()
            if exists is None:
                conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    except psycopg.Error as exc:
        raise StackError(f"creating database {DB_NAME} on port {port} failed: {exc}") from exc


def stop_postgres(data_dir: Path, ref: ProcessRef, pg_user: str, timeout_s: float = 30) -> bool:
    """Fast shutdown through pg_ctl; falls back to signalling the postmaster we recorded."""
    if not ref.alive():
        return True
    try:
        bin_dir: Path | None = find_bin_dir()
    except StackError:
        bin_dir = None
    if bin_dir is not None:
        _run_as(pg_user).run([str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-m", "fast",
                              "-w", "-t", str(int(timeout_s)), "stop"])
    if wait_until(lambda: not ref.alive(), 5):
        return True
    return ref.terminate(timeout_s)
