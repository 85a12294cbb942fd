"""Ground-truth fault labels: one JSON line per fault with kind, family, target ("plant" for
process faults), device, start and end in simulated UTC time, and the tags it acts on and
those expected to move, so detection can be scored on the right tags."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import orjson

from simulator.faults import ActiveFault, fault_tags

#: Which unit carries each tag (for the ``device`` field of sensor-fault labels).
_DEVICE_PREFIX = {"gas.ch4": "analyser", "gas.co2": "analyser", "gas.o2": "analyser",
                  "gas.h2s": "analyser", "gas.h2": "analyser", "ana.": "analyser",
                  "chp.": "chp"}


def device_of(tag: str) -> str:
    for prefix, device in _DEVICE_PREFIX.items():
        if tag.startswith(prefix):
            return device
    return "plc"


def label_for(fault: ActiveFault, family: str, start: datetime) -> dict[str, Any]:
    """The label of a fault: what, where, when, and (``acts_on``, ``moves``) the canonical tags
    it acts on and those a plant engineer expects to move with it."""
    acts_on, moves = fault_tags(fault.kind, fault.target)
    if family == "process":
        target, device = fault.target or "plant", None
    elif family == "sensor":
        target = fault.target or ""
        device = device_of(target)
    else:
        target, device = "device", fault.device
    return {
        "kind": fault.kind,
        "family": family,
        "target": target,
        "device": device,
        "start": (start + timedelta(seconds=fault.start_s)).isoformat(),
        "end": (start + timedelta(seconds=fault.end_s)).isoformat(),
        "magnitude": fault.magnitude,
        "acts_on": list(acts_on),
        "moves": list(moves),
    }


class LabelWriter:
    """Appends labels as JSON lines and flushes each, so a killed run keeps what it wrote."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self._fh: IO[bytes] | None = None
        self.written: list[dict[str, Any]] = []

    def write(self, label: dict[str, Any]) -> None:
        self.written.append(label)
        if self.path is None:
            return
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("ab")
        self._fh.write(orjson.dumps(label) + b"\n")
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def read_labels(path: str | Path) -> list[dict[str, Any]]:
    """Read a label file back."""
    return [orjson.loads(line) for line in Path(path).read_bytes().splitlines() if line.strip()]
