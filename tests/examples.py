"""One valid example of every event type, shared by unit and integration tests."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from uuid import UUID

from streams.events import (
    AlertAcknowledged,
    AlertCleared,
    AlertCommented,
    AlertOpened,
    AlertUpdated,
    Analyte,
    AnomalyDetected,
    DetectorVote,
    DeviceStatus,
    DeviceStatusChanged,
    EdgeHeartbeat,
    Event,
    EventBase,
    FeatureContribution,
    FeaturesComputed,
    Finding,
    LabResultRecorded,
    MessageDeadLettered,
    ModelDeployed,
    ModelDriftMeasured,
    ModelRef,
    ModelShadowCompared,
    Quality,
    Reading,
    ScanRecorded,
    Severity,
    TagKind,
    TagsConfigured,
    TagSpec,
)

PLANT = "plant-a"
T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
BOOT_ID = UUID("6f1c2a4e-1d7b-4c61-9a53-0d7f8f1e2a01")
ALERT_ID = UUID("0b0e7c4a-8d2e-4f9b-a0a1-3c5d7e9f1b22")
ANOMALY_ID = UUID("5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c11")
MODEL_SHA256 = "a" * 64
_E = TypeVar("_E", bound=EventBase)

SIGNATURE = base64.b64encode(bytes(range(64))).decode("ascii")


def scan(plant_id: str = PLANT, seq: int = 0, *, boot_id: UUID = BOOT_ID,
         source_ts: datetime = T0) -> ScanRecorded:
    """A scan with one reading of each JSON type and one failed read."""
    return ScanRecorded(
        plant_id=plant_id,
        edge_boot_id=boot_id,
        seq=seq,
        device="plc1",
        poll_group="fast",
        source_ts=source_ts,
        readings=(
            Reading(tag="digester1.temp_c", value=38.2, quality=Quality.GOOD),
            Reading(tag="digester1.level_pct", value=71, quality=Quality.GOOD),
            Reading(tag="chp1.running", value=True, quality=Quality.GOOD),
            Reading(tag="chp1.state", value="run", quality=Quality.STALE),
            Reading(tag="gas.ch4_pct", value=None, quality=Quality.COMM_FAIL),
        ),
        poll_duration_ms=12.5,
    )


def example_events() -> list[Event]:
    """One valid event of every event type, in the order of ``EVENT_TYPES``."""
    model = ModelRef(model_id="digester-iforest", version="3", sha256=MODEL_SHA256)
    return [
        scan(),
        DeviceStatusChanged(
            plant_id=PLANT, edge_boot_id=BOOT_ID, seq=1, device="plc1",
            status=DeviceStatus.DEGRADED, previous=DeviceStatus.ONLINE,
            reason="2 of 5 registers failed", exception_code=2, changed_at=T0,
        ),
        EdgeHeartbeat(
            plant_id=PLANT, edge_boot_id=BOOT_ID, seq=2, sent_at=T0 + timedelta(seconds=10),
            journal_depth=3, journal_oldest_age_s=4.5, journal_bytes=2048, dropped_total=0,
        ),
        TagsConfigured(
            plant_id=PLANT, edge_boot_id=BOOT_ID, seq=3, configured_at=T0,
            config_sha256=MODEL_SHA256,
            tags=(TagSpec(tag="digester1.temp_c", device="plc1", poll_group="fast",
                          poll_interval_s=1.0, unit="°C", min=30.0, max=45.0,
                          role="digester.temperature"),
                  TagSpec(tag="chp.running", device="chp", poll_group="status",
                          poll_interval_s=5.0, kind=TagKind.DISCRETE, role="chp.run")),
        ),
        FeaturesComputed(
            plant_id=PLANT, tag="digester1.temp_c", window_s=300, event_time=T0,
            features={"mean": 38.1, "std": 0.2, "slope_per_h": -0.05}, source_seq=0,
            edge_boot_id=BOOT_ID,
        ),
        AnomalyDetected(
            plant_id=PLANT, anomaly_id=ANOMALY_ID, tags=("digester1.temp_c",), event_time=T0,
            detected_at=T0 + timedelta(seconds=2), score=0.93, threshold=0.8,
            detectors=(
                DetectorVote(name="iforest", score=0.93, threshold=0.8, voted=True),
                DetectorVote(name="hst", score=0.4, threshold=0.7, voted=False),
            ),
            top_features=(FeatureContribution(name="slope_per_h", value=-0.05,
                                              contribution=0.6),),
            models=(model,),
            findings=(Finding(tag="digester1.temp_c", check="baseline.mean_1h", value=37.2,
                              normal_low=37.9, normal_high=38.3, role="digester.temperature",
                              text="digester temperature: 1-h mean 37.2, below its normal "
                                   "37.9 to 38.3"),),
        ),
        AlertOpened(
            alert_id=ALERT_ID, plant_id=PLANT, severity=Severity.WARNING,
            tags=("digester1.temp_c",), title="Digester 1 temperature falling",
            opened_at=T0 + timedelta(seconds=3), anomaly_ids=(ANOMALY_ID,),
            cause="heating_failure", summary="digester temperature: 1-h mean 37.2, below its "
                                             "normal 37.9 to 38.3",
        ),
        AlertUpdated(
            alert_id=ALERT_ID, plant_id=PLANT, severity=Severity.CRITICAL, anomaly_count=4,
            last_anomaly_at=T0 + timedelta(minutes=5), updated_at=T0 + timedelta(minutes=5),
            tags=("digester1.temp_c", "heat.supply_temp"),
        ),
        AlertAcknowledged(
            alert_id=ALERT_ID, plant_id=PLANT, acknowledged_by="tech.mueller",
            comment="checking the heat exchanger", acknowledged_at=T0 + timedelta(minutes=7),
        ),
        AlertCommented(
            alert_id=ALERT_ID, plant_id=PLANT, author="tech.mueller",
            comment="pump 2 replaced", commented_at=T0 + timedelta(minutes=40),
        ),
        AlertCleared(
            alert_id=ALERT_ID, plant_id=PLANT, cleared_at=T0 + timedelta(hours=1),
            reason="no anomaly for 30 minutes",
        ),
        ModelDeployed(
            model_id="digester-iforest", version="3", plant_id=None, sha256=MODEL_SHA256,
            artifact_uri="file:///var/lib/biogas/models/digester-iforest-3.onnx",
            signature=SIGNATURE, key_id="release-2026", features=("mean", "std", "slope_per_h"),
            deployed_by="ml.ops", deployed_at=T0,
        ),
        ModelDriftMeasured(
            plant_id=PLANT, model=model, window_start=T0 - timedelta(hours=24), window_end=T0,
            rows=86_400, psi={"z_value": 0.04, "drift_t": 0.31}, threshold=0.25, drifting=True,
            measured_at=T0 + timedelta(seconds=5),
        ),
        ModelShadowCompared(
            plant_id=PLANT, stream="plc1/fast", model_id="digester-iforest",
            live=model, candidate=ModelRef(model_id="digester-iforest", version="4",
                                           sha256="b" * 64),
            window_start=T0 - timedelta(hours=1), window_end=T0, readings=180_000,
            live_alarms=12, candidate_alarms=9, both_alarms=8,
            differing_by_tag={"gas.ch4": 3, "dig1.temp": 2},
        ),
        LabResultRecorded(
            plant_id=PLANT, sample_id="S-2026-0301-1", analyte=Analyte.FOS_TAC, value=0.31,
            unit="ratio", sampled_at=T0 - timedelta(hours=3), recorded_at=T0,
            recorded_by="lab.schmidt", digester="digester1",
        ),
        MessageDeadLettered(
            plant_id=PLANT, source_topic="plant.scans.v1", partition=2, offset=1234,
            key=MessageDeadLettered.encode_bytes(PLANT.encode()),
            payload=MessageDeadLettered.encode_bytes(b'{"event_type": "scan_recorded"'),
            reason="event is not valid JSON", error_type="MalformedEventError",
            dead_lettered_at=T0, by="agents.features",
        ),
    ]


def example_of(model: type[_E]) -> _E:
    """The example event of one event class."""
    for event in example_events():
        if isinstance(event, model):
            return event
    raise LookupError(f"no example of {model.__name__}")
