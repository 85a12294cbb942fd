"""Settings of the API process (environment prefix ``BIOGAS_API_``)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.settings import DatabaseSettings, KafkaSettings, LogSettings


class ApiSettings(BaseSettings):
    """Everything the API process needs, built once in ``biogas api`` and passed down."""

    model_config = SettingsConfigDict(env_prefix="BIOGAS_API_", frozen=True, extra="ignore")

    token_secret: SecretStr = Field(
        description="Secret that signs bearer tokens (at least 32 characters); set "
                    "BIOGAS_API_TOKEN_SECRET, e.g. to the output of 'openssl rand -hex 32'.",
        min_length=32,
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    log: LogSettings = Field(default_factory=LogSettings)
