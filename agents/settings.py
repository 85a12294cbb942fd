"""Settings of the agents worker process (environment prefix ``BIOGAS_AGENTS_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import SettingsConfigDict

from agents.detectors.baseline import BaselineConfig
from agents.stream_state import DetectionConfig
from streams.settings import (
    KafkaSettings,
    LogSettings,
    ObjectStoreSettings,
    ProcessSettings,
    topic_prefix_field,
)

#: the detection defaults, written once (in the detectors' own configs)
_DETECTION = DetectionConfig()
_BASELINE = BaselineConfig()


class AgentsSettings(ProcessSettings):
    """Everything the worker needs, built once in ``biogas agents worker`` and passed down."""

    model_config = SettingsConfigDict(env_prefix="BIOGAS_AGENTS_", frozen=True, extra="ignore")

    app_id: str = Field(default="biogas-agents", pattern=r"^[A-Za-z0-9._-]+$",
                        description="Faust app id: consumer group and internal topic prefix.")
    topic_prefix: str = topic_prefix_field("BIOGAS_AGENTS_TOPIC_PREFIX")
    data_dir: Path = Field(default=Path("/tmp/biogas-agents"),  # noqa: S108
                           description="Faust's data directory.")
    batch_max: int = Field(default=1000, ge=1, description="Scans processed per batch at most "
                           "(outputs confirmed, one snapshot per stream, offsets acknowledged).")
    batch_within_s: float = Field(default=0.5, gt=0, description="Longest wait to fill a batch "
                                  "(the detection latency when scans arrive slowly).")
    checkpoint_every_s: float = Field(
        default=20.0, ge=0, description="State snapshots of the streams a worker has touched "
        "are written at most this often (0: after every batch); input offsets are committed "
        "only up to the last checkpoint, so a restart replays at most this much (outputs "
        "again under the same ids). Must stay below STALL_AFTER_S.")
    checkpoint_every_scans: int = Field(
        default=20000, ge=1, description="... or after this many messages, whichever comes "
        "first (bounds the replay after a crash at high rates).")
    producer_linger_s: float = Field(
        default=0.005, ge=0, description="How long the producer gathers outputs into one "
        "request (a batch's outputs are still awaited before its snapshot and commit).")
    features_every_s: int = Field(default=60, ge=1,
                                  description="Event-time period of FeaturesComputed per tag.")
    shadow_window_s: float = Field(
        default=3600.0, ge=1.0, description="Event-time window of each ModelShadowCompared "
        "(a shadow model's decisions against the live ones, per stream).")
    commission_s: float = Field(
        default=_BASELINE.commission_s, ge=60.0, description="Commissioning: event time from "
        "a tag's first good reading in which the baseline detector learns what is normal for "
        "it before it judges (see agents/README.md).")
    statistical: bool = Field(
        default=_DETECTION.statistical, description="Also run the per-reading statistical "
        "detectors (z-score and HalfSpaceTrees on adaptive thresholds, WARMUP_SAMPLES ... "
        "HST_WINDOW).")
    warmup_samples: int = Field(default=_DETECTION.warmup, ge=1,
                                description="Samples per tag before statistical detectors vote.")
    min_votes: int = Field(default=_DETECTION.min_votes, ge=1,
                           description="Statistical votes needed.")
    threshold_quantile: float = Field(default=_DETECTION.quantile, gt=0.5, lt=1.0)
    threshold_margin: float = Field(default=_DETECTION.margin, ge=0.0, lt=1.0,
                                    description="Share of the headroom above the quantile.")
    late_after_s: float = Field(default=900.0, gt=0,
                                description="Data older than this (vs wall clock or the "
                                            "stream's watermark) is retrospective.")
    rules_file: Path | None = Field(default=None, description="JSON list of rule overrides.")
    trusted_keys_dir: Path | None = Field(
        default=None, description="Directory of trusted ed25519 public keys, <key_id>.pem.")
    alert_clear_after_s: float = Field(default=300.0, gt=0,
                                       description="Quiet time before an alert clears.")
    alert_holdoff_s: float = Field(default=600.0, ge=0,
                                   description="After a clear, no new alert for the tag for "
                                               "this long (flap suppression).")
    alert_check_interval_s: float = Field(default=5.0, gt=0)
    session_timeout_s: float = Field(
        default=30.0, ge=6.0, description="Consumer-group session timeout: how long a dead "
        "worker keeps its partitions before the group rebalances.")
    stall_after_s: float = Field(
        default=60.0, ge=5.0, description="An assigned input partition behind the log whose "
        "committed offset has not moved for this long (rebalances aside) makes the worker "
        "exit with code 75, for its supervisor to restart it.")
    stop_timeout_s: float = Field(
        default=8.0, gt=0, description="After SIGTERM or SIGINT, a graceful stop that takes "
        "longer than this ends the process (exit code 70, state and offsets are on the log).")
    metrics_host: str = Field(default="127.0.0.1", description="Address of /health and "
                              "/metrics (0.0.0.0 for every interface, as in a container).")
    metrics_port: int = Field(default=9110, ge=0, le=65535,
                              description="Port of /health and /metrics; 0: none.")
    hst_trees: int = Field(default=_DETECTION.hst_trees, ge=1)
    hst_height: int = Field(default=_DETECTION.hst_height, ge=2)
    hst_window: int = Field(default=_DETECTION.hst_window, ge=10)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    s3: ObjectStoreSettings = Field(default_factory=ObjectStoreSettings,
                                    description="Where s3:// model artifacts are read from.")
    log: LogSettings = Field(default_factory=LogSettings)

    def detection(self) -> DetectionConfig:
        """The detection config these settings ask for."""
        return DetectionConfig(
            warmup=self.warmup_samples, min_votes=self.min_votes,
            quantile=self.threshold_quantile, margin=self.threshold_margin,
            hst_trees=self.hst_trees, hst_height=self.hst_height, hst_window=self.hst_window,
            statistical=self.statistical,
            baseline=BaselineConfig(commission_s=self.commission_s))

    @field_validator("stall_after_s")
    @classmethod
    def _stall_after_a_checkpoint(cls, value: float, info: ValidationInfo) -> float:
        every = info.data.get("checkpoint_every_s")
        if every is not None and value <= 2 * every:
            raise ValueError(
                f"must be more than twice BIOGAS_AGENTS_CHECKPOINT_EVERY_S ({every:g} s): "
                "offsets move only at checkpoints, so a shorter stall time ends a healthy "
                "worker; raise it or checkpoint more often")
        return value
