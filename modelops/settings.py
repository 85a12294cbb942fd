"""Settings of the model lifecycle commands (prefix ``BIOGAS_MODELS_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.settings import DatabaseSettings, KafkaSettings, LogSettings, ObjectStoreSettings


def _default_registry() -> Path:
    return Path.home() / ".local" / "state" / "biogas" / "models"


class ModelOpsSettings(BaseSettings):
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
    topic_prefix: str = Field(default="", description="Prefix of the catalogue's topic names.")
    deployed_by: str = Field(default="biogas-models", min_length=1, max_length=128)
    drift_threshold: float = Field(default=0.25, gt=0,
                                   description="PSI above which a feature is drifting.")
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    s3: ObjectStoreSettings = Field(default_factory=ObjectStoreSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    log: LogSettings = Field(default_factory=LogSettings)
