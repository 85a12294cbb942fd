"""Turn a CSV tag list (as exported from a PLC project or a vendor's register table) into a
plant TOML draft. Devices get placeholders to fill in; the draft is then checked like any
config so the problems can be fixed one by one."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import tomli_w

from edge_producer.errors import PlantConfigError

_INT_FIELDS = ("address", "bit", "length")
_FLOAT_FIELDS = ("scale", "offset", "min", "max", "deadband", "max_silence_s")
_TEXT_FIELDS = ("name", "device", "register", "type", "order", "unit", "group")
_REQUIRED = ("name", "device", "register", "address")


def _row_to_tag(row: dict[str, str], line: int, one_based: bool) -> dict[str, Any]:
    tag: dict[str, Any] = {}
    for key, raw in row.items():
        if key is None or raw is None:
            continue
        key, value = key.strip().lower(), raw.strip()
        if not value:
            continue
        try:
            if key in _INT_FIELDS:
                tag[key] = int(value, 0)
            elif key in _FLOAT_FIELDS:
                tag[key] = float(value)
            elif key in _TEXT_FIELDS:
                tag[key] = value
            else:
                raise PlantConfigError(f"line {line}", [f"unknown column {key!r}; known: "
                                       + ", ".join(_TEXT_FIELDS + _INT_FIELDS + _FLOAT_FIELDS)])
        except ValueError:
            raise PlantConfigError(f"line {line}", [f"{key}: {value!r} is not a number"]) from None
    missing = [k for k in _REQUIRED if k not in tag]
    if missing:
        raise PlantConfigError(f"line {line}", [f"missing column(s): {', '.join(missing)}"])
    if one_based:
        tag["address"] -= 1
    return tag


def draft_from_csv(path: Path, plant_id: str, *, one_based: bool = False) -> dict[str, Any]:
    """The plant config as a dict, ready for ``tomli_w``."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            tags = [_row_to_tag(row, n, one_based)
                    for n, row in enumerate(csv.DictReader(fh), start=2)]
    except OSError as exc:
        raise PlantConfigError(str(path), [f"cannot read: {exc.strerror}"]) from None
    except PlantConfigError as exc:
        raise PlantConfigError(f"{path} {exc.source}", exc.problems) from None
    devices = {t["device"]: {"protocol": "tcp", "host": "CHANGE-ME", "port": 502,
                             "unit_id": 1} for t in tags}
    groups = sorted({t.get("group", "default") for t in tags})
    return {"plant_id": plant_id, "devices": devices,
            "poll_groups": {g: {"interval_s": 1.0} for g in groups}, "tags": tags}


def draft_toml(draft: dict[str, Any]) -> str:
    return tomli_w.dumps(draft)
