"""Load the NAB corpus (Numenta Anomaly Benchmark): series and their labelled windows."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from evaluation.errors import BenchmarkDataError


@dataclass(frozen=True)
class NabFile:
    """One series: timestamps (seconds), values, and its windows as inclusive row ranges."""

    name: str
    times: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    windows: tuple[tuple[int, int], ...]

    @property
    def probation(self) -> int:
        """Rows ignored at the start: ``min(floor(0.15·N), 750)``."""
        return min(int(0.15 * len(self.values)), 750)


def _seconds(stamp: str) -> int:
    return int(np.datetime64(stamp.strip().replace(" ", "T"), "s").astype(np.int64))


def load_nab(root: Path) -> list[NabFile]:
    """Every series under ``root/data`` with its windows from ``root/labels``, sorted by name."""
    labels_path = root / "labels" / "combined_windows.json"
    if not labels_path.is_file():
        raise BenchmarkDataError(
            f"no NAB labels at {labels_path}; pass --nab-dir pointing at the folder holding "
            "data/ and labels/")
    labels: dict[str, list[list[str]]] = json.loads(labels_path.read_text())
    files: list[NabFile] = []
    for name in sorted(labels):
        path = root / "data" / name
        if not path.is_file():
            raise BenchmarkDataError(f"{path} is listed in {labels_path} but missing")
        with path.open(newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            if header[:2] != ["timestamp", "value"]:
                raise BenchmarkDataError(f"{path}: unexpected header {header}")
            rows = list(reader)
        times = np.array([_seconds(r[0]) for r in rows], dtype=np.int64)
        values = np.array([float(r[1]) for r in rows], dtype=np.float64)
        windows = []
        for start, end in labels[name]:
            inside = np.nonzero((times >= _seconds(start)) & (times <= _seconds(end)))[0]
            if len(inside):
                windows.append((int(inside[0]), int(inside[-1])))
        files.append(NabFile(name, times, values, tuple(windows)))
    return files
