"""Settings of the model lifecycle commands (prefix ``BIOGAS_MODELS_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.errors import ConfigError
from streams.settings import (
    DatabaseSettings,
    KafkaSettings,
    LogSettings,
    ObjectStoreSettings,
    ProcessSettings,
    describe_invalid,
    topic_prefix_field,
)


def _default_registry() -> Path:
    return Path.home() / ".local" / "state" / "biogas" / "models"


class ModelOpsSettings(ProcessSettings):
    """Built once in a ``biogas models`` command and passed down."""

    model_config = SettingsConfigDict(env_prefix="BIOGAS_MODELS_", frozen=True, extra="ignore")

    registry_dir: Path = Field(default_factory=_default_registry,
                               description="Local-directory registry of versioned artifacts.")
    registry_url: str | None = Field(
        default=None, pattern=r"^s3://[^/]+(/.*)?$",
        description="s3://bucket/prefix: keep the registry in an S3-compatible store "
                    "(BIOGAS_S3_*) instead of registry_dir.")
    signing_key: Path | None = Field(
        default=None, description="ed25519 private key (PEM) that signs promoted artifacts.")
    key_id: str | None = Field(default=None, description="Key id of the signing key "
                                                          "(default: the key file's stem).")
    topic_prefix: str = topic_prefix_field("BIOGAS_MODELS_TOPIC_PREFIX")
    deployed_by: str = Field(default="biogas-models", min_length=1, max_length=128)
    drift_threshold: float = Field(default=0.25, gt=0,
                                   description="PSI above which a feature is drifting; a "
                                               "number above 0, e.g. 0.25.")
    drift_interval_s: float = Field(
        default=3600.0, gt=0, description="Seconds between drift-watch passes; a number above "
        "0, e.g. 3600 (hourly). Windows end on multiples of it (UTC).")
    drift_window_s: float = Field(
        default=86_400.0, gt=0, description="Seconds of model inputs each drift-watch pass "
        "checks; a number above 0, e.g. 86400 (the last 24 h).")
    drift_metrics_host: str = Field(default="127.0.0.1", min_length=1,
                                    description="Address drift-watch serves /metrics on.")
    drift_metrics_port: Annotated[int, Field(ge=0, le=65535)] = Field(
        default=9109, description="Port of drift-watch's Prometheus /metrics; 0-65535, "
        "0 serves none.")
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    s3: ObjectStoreSettings = Field(default_factory=ObjectStoreSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    log: LogSettings = Field(default_factory=LogSettings)


_SETTINGS_CLASSES: tuple[type[BaseSettings], ...] = (
    ModelOpsSettings, KafkaSettings, ObjectStoreSettings, DatabaseSettings, LogSettings)


def load_settings(**overrides: Any) -> ModelOpsSettings:
    """The settings from the environment (``overrides`` win); :class:`ConfigError` naming the
    variable and the fix when one is invalid."""
    try:
        return ModelOpsSettings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_invalid(exc, _SETTINGS_CLASSES)) from None
