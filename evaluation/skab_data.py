"""Load the SKAB benchmark (Skoltech Anomaly Benchmark) as the leaderboard uses it."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from evaluation.errors import BenchmarkDataError

FEATURES = ("Accelerometer1RMS", "Accelerometer2RMS", "Current", "Pressure", "Temperature",
            "Thermocouple", "Voltage", "Volume Flow RateRMS")
TRAIN_ROWS = 400


@dataclass(frozen=True)
class SkabFile:
    """One labelled experiment: timestamps (seconds), features, labels."""

    name: str
    times: npt.NDArray[np.int64]
    features: npt.NDArray[np.float64]
    anomaly: npt.NDArray[np.int8]
    changepoint: npt.NDArray[np.int8]

    def split(self, train_rows: int = TRAIN_ROWS) -> tuple[SkabFile, SkabFile]:
        """The leaderboard's chronological split: the first ``train_rows`` rows, and the rest."""
        def part(sl: slice, suffix: str) -> SkabFile:
            return SkabFile(self.name + suffix, self.times[sl], self.features[sl],
                            self.anomaly[sl], self.changepoint[sl])
        return part(slice(0, train_rows), ":train"), part(slice(train_rows, None), "")


def _read(path: Path, root: Path) -> SkabFile:
    with path.open(newline="") as handle:
        reader = csv.reader(handle, delimiter=";")
        header = next(reader)
        try:
            idx = [header.index(name) for name in (*FEATURES, "anomaly", "changepoint")]
            t_idx = header.index("datetime")
        except ValueError as exc:
            raise BenchmarkDataError(f"{path}: unexpected header {header}") from exc
        rows = list(reader)
    times = np.array([np.datetime64(r[t_idx].replace(" ", "T"), "s").astype(np.int64)
                      for r in rows], dtype=np.int64)
    values = np.array([[float(r[i]) for i in idx] for r in rows], dtype=np.float64)
    return SkabFile(
        name=str(path.relative_to(root)),
        times=times,
        features=values[:, : len(FEATURES)],
        anomaly=values[:, len(FEATURES)].astype(np.int8),
        changepoint=values[:, len(FEATURES) + 1].astype(np.int8),
    )


def load_skab(root: Path) -> list[SkabFile]:
    """Every labelled file under ``root/data`` (``anomaly-free`` is not used), sorted by name."""
    data = root / "data"
    if not data.is_dir():
        raise BenchmarkDataError(
            f"no SKAB data at {data}; pass --skab-dir pointing at the folder holding data/")
    files = sorted(p for p in data.rglob("*.csv") if "anomaly-free" not in p.parts)
    if not files:
        raise BenchmarkDataError(f"no labelled CSV files under {data}")
    return [_read(path, data) for path in files]
