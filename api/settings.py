"""Settings of the API process (environment prefix ``BIOGAS_API_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from streams.settings import (
    DatabaseSettings,
    KafkaSettings,
    LogSettings,
    ProcessSettings,
    topic_prefix_field,
)


class ApiSettings(ProcessSettings):
    """Everything the API process needs, built once in ``biogas api`` and passed down."""

    model_config = SettingsConfigDict(env_prefix="BIOGAS_API_", frozen=True, extra="ignore")

    token_secret: SecretStr = Field(
        description="Secret that signs bearer tokens (at least 32 characters); set "
                    "BIOGAS_API_TOKEN_SECRET, e.g. to the output of 'openssl rand -hex 32'.",
        min_length=32,
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    topic_prefix: str = topic_prefix_field("BIOGAS_API_TOPIC_PREFIX")
    pool_min_size: int = Field(default=1, ge=0, description="Database connections kept open.")
    pool_max_size: int = Field(default=10, ge=1, description="Most database connections.")
    pool_timeout_s: float = Field(default=5.0, gt=0,
                                  description="Wait for a free connection before a 503.")
    statement_timeout_ms: int = Field(default=15_000, ge=100,
                                      description="A query running longer is cancelled (503).")
    plant_profiles: Path | None = Field(
        default=None, description="TOML file of plant profiles for the KPIs (constants and "
        "tag mapping); without it every plant uses the simulator's default plant.")
    sse_keepalive_s: float = Field(default=15.0, gt=0,
                                   description="Comment line sent on an idle live stream.")
    max_body_bytes: int = Field(
        default=2 * 1024 * 1024, ge=1024, description="Largest request body accepted (a "
        "command, a lab-result CSV); larger ones are answered 413 before they are parsed.")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    log: LogSettings = Field(default_factory=LogSettings)
