"""Settings of the stack launcher (environment prefix ``BIOGAS_STACK_``)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

KAFKA_VERSION = "3.9.1"
SLF4J_VERSION = "1.7.36"
RELOAD4J_VERSION = "1.2.25"


def _default_state_dir() -> Path:
    # As root the PostgreSQL server runs as an unprivileged user, which must be able to reach its
    # data directory: /root is not traversable, so root's stacks live under /var/lib.
    if os.geteuid() == 0:
        return Path("/var/lib/biogas/stack")
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "biogas" / "stack"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "biogas"


class StackSettings(BaseSettings):
    """Where the stack keeps its state and cached jars, and how its servers are sized."""

    model_config = SettingsConfigDict(env_prefix="BIOGAS_STACK_", frozen=True, extra="ignore")

    dir: Path = Field(default_factory=_default_state_dir,
                      description="State directory: data, logs, pids of this stack.")
    cache_dir: Path = Field(default_factory=_default_cache_dir,
                            description="Cache for the Kafka jars resolved with Maven.")
    kafka_version: str = KAFKA_VERSION
    kafka_heap: str = "512m"
    pg_user: str = Field(default="postgres",
                         description="Unprivileged OS user that runs PostgreSQL when run as root.")
    start_timeout_s: float = 90.0
