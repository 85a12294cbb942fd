"""Settings of the projector and rebuild processes (environment prefix ``BIOGAS_PROJECTOR_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from streams.settings import (
    DatabaseSettings,
    KafkaSettings,
    LogSettings,
    ProcessSettings,
    topic_prefix_field,
)


class ProjectorSettings(ProcessSettings):
    """Everything ``biogas projections run|rebuild`` needs, built once in the command."""

    model_config = SettingsConfigDict(env_prefix="BIOGAS_PROJECTOR_", frozen=True,
                                      extra="ignore")

    group_id: str = Field(default="biogas-projections",
                          description="Kafka consumer group of the projector workers.")
    instance_id: str | None = Field(
        default=None, description="Static group membership id: a restarted worker with the "
        "same id takes its partitions back at once instead of after the session timeout.")
    session_timeout_ms: int = Field(default=10_000, ge=6_000,
                                    description="Consumer group session timeout.")
    topic_prefix: str = topic_prefix_field("BIOGAS_PROJECTOR_TOPIC_PREFIX")
    batch_max_messages: int = Field(default=5000, ge=1,
                                    description="Most messages written per transaction.")
    rebuild_workers: int = Field(default=2, ge=1, le=64,
                                 description="Processes decoding batches during a rebuild.")
    batch_wait_ms: int = Field(default=100, ge=1,
                               description="How long a fetch waits for messages.")
    retry_initial_s: float = Field(default=0.2, gt=0,
                                   description="First back-off after a database error.")
    retry_max_s: float = Field(default=5.0, gt=0, description="Longest back-off.")
    metrics_host: str = Field(default="127.0.0.1", description="Address of /health and "
                              "/metrics (0.0.0.0 for every interface, as in a container).")
    metrics_port: int = Field(default=9111, ge=0, le=65535,
                              description="Port of /health and /metrics of `projections run`; "
                              "0: none.")
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    log: LogSettings = Field(default_factory=LogSettings)
