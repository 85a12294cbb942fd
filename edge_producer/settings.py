"""The edge producer's process settings (environment, prefix ``BIOGAS_EDGE_``), built once in
the entry point; command-line options override them with ``model_copy(update=...)``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from streams.settings import KafkaSettings, LogSettings, ProcessSettings, topic_prefix_field


def _state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "biogas" / "edge"


class EdgeSettings(ProcessSettings):
    """Where the journal lives, where metrics are served, how the forwarder behaves."""

    model_config = SettingsConfigDict(env_prefix="BIOGAS_EDGE_", frozen=True, extra="ignore")

    journal: Path = Field(default_factory=lambda: _state_dir() / "journal.sqlite",
                          description="SQLite journal file (created on first use).")
    journal_durable: bool = Field(
        default=True, description="fsync every group commit (synchronous=FULL); false keeps "
        "what survives a process crash but not a power loss.")
    metrics_host: str = "127.0.0.1"
    metrics_port: Annotated[int, Field(ge=0, le=65535)] = Field(
        default=9108, description="/health and /metrics; 0 disables the server.")
    heartbeat_interval_s: Annotated[float, Field(gt=0)] = 10.0
    topic_prefix: str = topic_prefix_field("BIOGAS_EDGE_TOPIC_PREFIX")
    modbus_host: str | None = Field(
        default=None, description="Override the host of every TCP device (simulator, demo).")
    modbus_port: Annotated[int, Field(ge=1, le=65535)] | None = Field(
        default=None, description="Override the port of every TCP device (simulator, demo).")
    device_backoff_max_s: Annotated[float, Field(gt=0)] = 30.0
    forward_batch: Annotated[int, Field(ge=1, le=100_000)] = 5000
    forward_timeout_s: Annotated[float, Field(gt=0)] = 30.0
    compression: Literal["gzip", "none"] = "gzip"
    drain_on_stop_s: Annotated[float, Field(ge=0)] = 5.0
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    log: LogSettings = Field(default_factory=LogSettings)
