"""Scripted scan streams with known faults, for the agents' unit and integration tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from streams.events import Quality, Reading, ScanRecorded

#: tag -> (mean, noise std)
NORMAL: dict[str, tuple[float, float]] = {
    "dig1.temp": (38.0, 0.05), "gas.ch4": (52.0, 0.3), "gas.pressure": (3.0, 0.1),
    "agit1.current": (20.0, 0.5), "chp.p_el": (480.0, 5.0), "gas.flow_chp": (240.0, 3.0),
    "heat.supply_temp": (90.0, 0.3), "dig1.ph": (7.5, 0.02),
}


@dataclass(frozen=True)
class Faults:
    """Scan numbers where faults start (None = no such fault)."""

    spike_at: int | None = None
    spike_tag: str = "gas.pressure"
    spike_len: int = 1
    stuck_from: int | None = None
    stuck_tag: str = "dig1.ph"
    drift_from: int | None = None
    drift_tag: str = "agit1.current"
    drift_per_s: float = 0.01


def scripted_scans(n: int, start: datetime, *, plant_id: str = "plant-a",
                   faults: Faults = Faults(), seed: int = 1, boot_id: uuid.UUID | None = None,
                   first_seq: int = 0) -> list[ScanRecorded]:
    """``n`` scans one second apart of the :data:`NORMAL` tags, with ``faults`` injected."""
    rng = np.random.default_rng(seed)
    boot = boot_id or uuid.uuid4()
    noise = rng.normal(size=(n + first_seq, len(NORMAL)))[first_seq:]
    scans = []
    stuck_value: float | None = None
    for k in range(n):
        s = k + first_seq
        readings = []
        for j, (tag, (mean, std)) in enumerate(NORMAL.items()):
            value = mean + std * float(noise[k, j])
            if faults.drift_from is not None and tag == faults.drift_tag and s >= faults.drift_from:
                value += faults.drift_per_s * (s - faults.drift_from)
            if (faults.spike_at is not None and tag == faults.spike_tag
                    and faults.spike_at <= s < faults.spike_at + faults.spike_len):
                value += 30 * std
            if faults.stuck_from is not None and tag == faults.stuck_tag and s >= faults.stuck_from:
                stuck_value = value if stuck_value is None else stuck_value
                value = stuck_value
            readings.append(Reading(tag=tag, value=round(value, 4), quality=Quality.GOOD))
        scans.append(ScanRecorded(
            plant_id=plant_id, edge_boot_id=boot, seq=s, device="plc1", poll_group="fast",
            source_ts=start + timedelta(seconds=s), readings=tuple(readings)))
    return scans


def training_rows(scans: list[ScanRecorded], *, skip_scans: int = 300) -> np.ndarray:
    """Model input rows of a clean stream, computed as offline training does, without the
    first ``skip_scans`` scans (the windows are still filling there)."""
    from agents.features.reading import model_rows, numeric

    samples = [(s.source_ts.timestamp(), {r.tag: numeric(r.value) for r in s.readings})
               for s in scans]
    rows = model_rows(samples)
    per_scan = len(scans[0].readings)
    return rows[skip_scans * per_scan:]
