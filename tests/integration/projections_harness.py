"""Traffic for the projection tests (no tests here): a deterministic stream of every projected
event for a few plants, the producer that appends it, the projector subprocess, and readers
of the projection tables."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from logio.appending import append_events
from streams.events import (
    AlertAcknowledged,
    AlertCleared,
    AlertOpened,
    AlertUpdated,
    Analyte,
    AnomalyDetected,
    DeviceStatus,
    DeviceStatusChanged,
    EdgeHeartbeat,
    EventBase,
    LabResultRecorded,
    Quality,
    Reading,
    ScanRecorded,
    Severity,
)
from streams.settings import DatabaseSettings, KafkaSettings
from streams.topics import Topics

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 3, 1, 23, 50, tzinfo=UTC)  # crosses midnight: two day partitions
TAGS = ("dig.temp", "dig.level", "gas.flow", "gas.ch4", "chp.p_el", "chp.run", "chp.state")


def plant_events(plant: str, scans: int, *, seed: int, interval_s: float = 5.0
                 ) -> list[EventBase]:
    """One plant's edge events (scans with every value type, a late batch, device status
    changes, heartbeats) plus an anomaly, an alert lifecycle and a lab result."""
    rng = random.Random(seed)
    boot = uuid.UUID(int=rng.getrandbits(128), version=4)
    events: list[EventBase] = []
    seq = 0
    times = [START + timedelta(seconds=i * interval_s) for i in range(scans)]
    late = times[scans // 3: scans // 3 + 5]  # held back, sent at the end (backfill)
    for time in [t for t in times if t not in late] + late:
        readings = []
        for tag in TAGS:
            quality = Quality.GOOD if rng.random() > 0.05 else Quality.COMM_FAIL
            value: float | bool | str | None
            if quality is not Quality.GOOD:
                value = None
            elif tag == "chp.run":
                value = rng.random() > 0.2
            elif tag == "chp.state":
                value = rng.choice(("run", "start", "off", "fault\x00code"))  # NUL: not storable
            else:
                value = round(rng.uniform(0, 500), 3) + rng.random() / 7
            readings.append(Reading(tag=tag, value=value, quality=quality))
        events.append(ScanRecorded(plant_id=plant, edge_boot_id=boot, seq=seq, device="plc1",
                                   poll_group="fast", source_ts=time, readings=tuple(readings)))
        seq += 1
        if seq % 25 == 0:
            events.append(EdgeHeartbeat(plant_id=plant, edge_boot_id=boot, seq=seq,
                                        sent_at=time, journal_depth=seq % 7,
                                        journal_oldest_age_s=None, journal_bytes=100,
                                        dropped_total=0))
            seq += 1
        if seq % 60 == 0:
            events.append(DeviceStatusChanged(
                plant_id=plant, edge_boot_id=boot, seq=seq, device="plc1",
                status=DeviceStatus.DEGRADED if seq % 120 else DeviceStatus.ONLINE,
                previous=None, reason="register 3 timed out\x00", changed_at=time))
            seq += 1
    anomaly, alert = uuid.UUID(int=rng.getrandbits(128)), uuid.UUID(int=rng.getrandbits(128))
    events += [
        AnomalyDetected(plant_id=plant, anomaly_id=anomaly, tags=("dig.temp",),
                        event_time=START, detected_at=START, score=0.9, threshold=0.8,
                        detectors=(), top_features=()),
        AlertOpened(alert_id=alert, plant_id=plant, severity=Severity.WARNING,
                    tags=("dig.temp",), title="temperature", opened_at=START,
                    anomaly_ids=(anomaly,)),
        AlertAcknowledged(alert_id=alert, plant_id=plant, acknowledged_by="tech",
                          acknowledged_at=START + timedelta(minutes=2)),
        AlertUpdated(alert_id=alert, plant_id=plant, severity=Severity.CRITICAL,
                     anomaly_count=3, last_anomaly_at=START + timedelta(minutes=3),
                     updated_at=START + timedelta(minutes=3)),
        AlertCleared(alert_id=alert, plant_id=plant, cleared_at=START + timedelta(hours=1),
                     reason="back to normal"),
        LabResultRecorded(plant_id=plant, sample_id="s1", analyte=Analyte.FOS_TAC, value=0.3,
                          unit="ratio", sampled_at=START, recorded_at=START,
                          recorded_by="lab"),
    ]
    return events


def interleave(*streams: Sequence[EventBase]) -> list[EventBase]:
    """Round-robin over the plants' streams, keeping each stream's order."""
    out: list[EventBase] = []
    longest = max(len(s) for s in streams)
    for i in range(longest):
        out.extend(s[i] for s in streams if i < len(s))
    return out


def readings_in(events: Sequence[EventBase]) -> int:
    return sum(len(e.readings) for e in events if isinstance(e, ScanRecorded))


async def produce(bootstrap: str, topics: Topics, events: Sequence[EventBase]) -> None:
    await append_events(KafkaSettings(bootstrap_servers=bootstrap), topics, events)


def projector_env(bootstrap: str, database: DatabaseSettings, topics: Topics, group: str,
                  **extra: str) -> dict[str, str]:
    extra.setdefault("BIOGAS_PROJECTOR_METRICS_PORT", "0")  # only where a test asks for it
    return dict(os.environ, BIOGAS_KAFKA_BOOTSTRAP_SERVERS=bootstrap,
                BIOGAS_DATABASE_URL=database.url,
                BIOGAS_DATABASE_SCHEMA_NAME=database.schema_name,
                BIOGAS_TOPIC_PREFIX=topics.prefix, BIOGAS_PROJECTOR_GROUP_ID=group,
                BIOGAS_PROJECTOR_INSTANCE_ID=f"{group}-1",
                BIOGAS_PROJECTOR_SESSION_TIMEOUT_MS="6000",
                BIOGAS_LOG_FORMAT="json", **extra)


@contextmanager
def projector_process(env: dict[str, str], log_file: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The projector (``python -m projections``, what ``biogas projections run`` runs) as a
    child process; killed with SIGKILL if still running at the end."""
    with log_file.open("ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "projections"],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)


def stored_offsets(database: DatabaseSettings) -> dict[tuple[str, int], int]:
    with psycopg.connect(database.url) as conn:
        rows = conn.execute(
            f'SELECT o.topic, o.partition, o.next_offset FROM "{database.schema_name}".'
            f'projection_offsets o JOIN "{database.schema_name}".projection_live l '
            "ON o.projection = l.prefix").fetchall()
    return {(t, p): n for t, p, n in rows}


def query(database: DatabaseSettings, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(database.url) as conn:
        conn.execute(f'SET search_path TO "{database.schema_name}"')
        return conn.execute(sql, params or None).fetchall()
