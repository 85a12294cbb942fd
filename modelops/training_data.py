"""Training rows for a plant and a time range, from the projections or by replaying the log.

Either way the rows are the agents' model inputs computed by
:func:`agents.features.reading.model_rows` (the same windows and features as online), one
stream per (device, poll group) from the log; from the projections (which keep no device) the
plant's readings that share a source timestamp form one sample.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from agents.features.reading import MODEL_FEATURES, model_rows, numeric
from agents.features.windows import F64
from agents.pipeline import stream_key
from modelops.errors import ModelOpsError, TrainingDataError
from modelops.log_replay import replay_topic
from projections.db import connect
from projections.errors import ProjectionError
from streams.codec import decode
from streams.errors import ContractError
from streams.events import Quality, ScanRecorded
from streams.settings import DatabaseSettings, KafkaSettings
from streams.topics import Stream, Topics

Samples = list[tuple[float, dict[str, float]]]
Advance = Callable[[int], object]


@dataclass(frozen=True)
class TrainingRange:
    plant_id: str
    since: datetime
    until: datetime

    def as_dict(self) -> dict[str, str]:
        return {"plant_id": self.plant_id, "since": self.since.isoformat(),
                "until": self.until.isoformat()}


def rows_of_streams(streams: dict[str, Samples]) -> F64:
    parts = [model_rows(samples) for _, samples in sorted(streams.items()) if samples]
    if not parts:
        return np.zeros((0, len(MODEL_FEATURES)))
    return np.concatenate(parts)


def count_readings(db: DatabaseSettings, rng: TrainingRange) -> int:
    try:
        with connect(db) as conn:
            row = conn.execute(
                "SELECT count(*) FROM readings WHERE plant_id = %s AND time >= %s "
                "AND time < %s", (rng.plant_id, rng.since, rng.until)).fetchone()
    except ProjectionError as exc:
        raise ModelOpsError(f"cannot read the projections: {exc}") from exc
    return int(row[0]) if row else 0


def plants_with_readings(db: DatabaseSettings, since: datetime, until: datetime) -> list[str]:
    """The plants with at least one reading in ``[since, until)`` in the projections."""
    try:
        with connect(db) as conn:
            found = conn.execute(
                "SELECT s.plant_id FROM series AS s WHERE EXISTS (SELECT 1 FROM readings AS r "
                "WHERE r.plant_id = s.plant_id AND r.tag = s.tag AND r.time >= %s "
                "AND r.time < %s) GROUP BY s.plant_id ORDER BY s.plant_id",
                (since, until)).fetchall()
    except ProjectionError as exc:
        raise ModelOpsError(f"cannot read the projections: {exc}") from exc
    return [str(row[0]) for row in found]


def from_projections(db: DatabaseSettings, rng: TrainingRange,
                     advance: Advance | None = None) -> F64:
    """Model input rows from the ``readings`` view (good readings only)."""
    samples: Samples = []
    try:
        with connect(db) as conn, conn.cursor(name="training_readings") as cur:
            cur.itersize = 5000
            cur.execute("SELECT time, tag, value, quality FROM readings WHERE plant_id = %s "
                        "AND time >= %s AND time < %s ORDER BY time, tag",
                        (rng.plant_id, rng.since, rng.until))
            current: float | None = None
            values: dict[str, float] = {}
            done = 0
            for time, tag, value, quality in cur:
                ts = time.timestamp()
                if ts != current:
                    if values and current is not None:
                        samples.append((current, values))
                    current, values = ts, {}
                if quality == Quality.GOOD and value is not None:
                    values[tag] = float(value)
                done += 1
                if advance is not None and done % 1000 == 0:
                    advance(1000)
            if values and current is not None:
                samples.append((current, values))
            if advance is not None:
                advance(done % 1000)
    except ProjectionError as exc:
        raise ModelOpsError(f"cannot read the projections: {exc}") from exc
    return rows_of_streams({"projections": samples})


async def from_log(kafka: KafkaSettings, topics: Topics, rng: TrainingRange,
                   advance: Advance | None = None) -> F64:
    """Model input rows by replaying the scans topic from the beginning to its current end."""
    return rows_of_streams(await streams_from_log(kafka, topics, rng, advance))


async def streams_from_log(kafka: KafkaSettings, topics: Topics, rng: TrainingRange,
                           advance: Advance | None = None) -> dict[str, Samples]:
    """The plant's good readings in the range by stream (``plant|device|poll group``), replayed
    from the scans topic's beginning to its current end."""
    spec = topics[Stream.SCANS]
    streams: dict[str, Samples] = defaultdict(list)
    since, until = rng.since.timestamp(), rng.until.timestamp()
    async for value in replay_topic(kafka, spec.name, spec.partitions,
                                    client_id=f"{kafka.client_id}-training", advance=advance):
        _add(streams, value, rng.plant_id, since, until)
    return dict(streams)


def stream_matrix(streams: dict[str, Samples], stream: str | None,
                  patterns: tuple[str, ...] = ("*",)) -> tuple[str, tuple[str, ...], F64]:
    """One stream's readings as a matrix (a row per scan, a column per tag, NaN where a scan
    had no good reading): the stream named ``device/poll_group``, or the plant's only one.
    Columns are the tags matching any of ``patterns`` (``fnmatch``), in name order."""
    found = {key: samples for key, samples in streams.items() if samples}
    if stream is not None:
        found = {k: v for k, v in found.items() if k.split("|", 1)[1] == stream.replace("/", "|")}
    if len(found) != 1:
        names = ", ".join(sorted(k.split("|", 1)[1].replace("|", "/") for k in streams)) \
            or "none"
        what = f"no stream {stream!r}" if stream is not None and not found else \
            f"{len(found)} streams"
        raise TrainingDataError(f"{what} in the range (the plant's streams: {names}); name one "
                                "with --stream DEVICE/POLL_GROUP")
    ((key, samples),) = found.items()
    tags = tuple(sorted({t for _, values in samples for t in values
                         if any(fnmatch.fnmatchcase(t, p) for p in patterns)}))
    if not tags:
        raise TrainingDataError(f"no tag of stream {key} matches {list(patterns)}")
    column = {t: j for j, t in enumerate(tags)}
    matrix = np.full((len(samples), len(tags)), np.nan)
    for i, (_, values) in enumerate(sorted(samples, key=lambda s: s[0])):
        for t, v in values.items():
            j = column.get(t)
            if j is not None:
                matrix[i, j] = v
    return key, tags, matrix


def _add(streams: dict[str, Samples], value: bytes | None, plant_id: str, since: float,
         until: float) -> None:
    if value is None:
        return
    try:
        event = decode(value)
    except ContractError:
        return  # the detector agent dead-letters these; training skips them
    if not isinstance(event, ScanRecorded) or event.plant_id != plant_id:
        return
    ts = event.source_ts.timestamp()
    if since <= ts < until:
        streams[stream_key(event)].append((ts, {
            r.tag: numeric(r.value) for r in event.readings
            if r.quality is Quality.GOOD and np.isfinite(numeric(r.value))}))


def require_rows(rows: F64, rng: TrainingRange, source: str) -> F64:
    if len(rows) == 0:
        raise TrainingDataError(f"no readings of plant {rng.plant_id!r} between "
                                f"{rng.since.isoformat()} and {rng.until.isoformat()} in the "
                                f"{source}; check --plant, --since and --until")
    return rows
