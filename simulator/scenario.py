"""Scenario files: TOML, validated with pydantic; errors name the file, the key path and the fix.

Format (all times in simulated hours from the scenario start)::

    [scenario]
    name = "chp_trip"
    start = 2026-03-01T00:00:00Z   # simulated UTC start
    duration_h = 48                # run length; omit to run until stopped
    repeat_h = 24                  # optional: repeat the fault schedule every 24 h
    seed = 7
    speed = 3600.0                 # simulated seconds per wall second
    step_s = 60.0                  # simulated time per model update

    [plant.storage]                # any PlantConfig field, deep-merged over the defaults
    capacity_m3 = 2000

    [[faults]]
    kind = "chp_trip"
    start_h = 6
    duration_h = 12
"""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from simulator.config import PlantConfig
from simulator.faults import (
    DEFAULT_MAGNITUDE,
    LINK_KINDS,
    PROCESS_KINDS,
    SENSOR_KINDS,
    ActiveFault,
    Device,
    FaultKind,
)
from streams.errors import ConfigError

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
PLANT_DIR = Path(__file__).resolve().parent / "plants"


class ScenarioError(ConfigError):
    """A scenario file is invalid; the message names the file, the key path and the fix."""


class FaultSpec(BaseModel):
    """One scheduled fault."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: FaultKind
    start_h: float = Field(ge=0.0)
    duration_h: float = Field(gt=0.0)
    target: str | None = Field(default=None, description="tag id, for sensor faults; "
                                                         "chp or chp2 for a chp_trip")
    device: Device | None = Field(default=None, description="unit, for link faults")
    magnitude: float | None = None
    ramp_h: float = Field(default=0.0, ge=0.0)
    inhibition: float = Field(default=1.0, gt=0.0, le=1.0,
                              description="methanogen rate multiplier reached (overload)")
    probability: float = Field(default=0.05, ge=0.0, le=1.0, description="spike chance/update")

    @model_validator(mode="after")
    def _check_kind_fields(self) -> Self:
        if self.kind in SENSOR_KINDS and not self.target:
            raise ValueError(f"a '{self.kind}' fault needs target = \"<tag id>\", e.g. dig1.ph")
        if self.kind in PROCESS_KINDS and self.target is not None and not (
                self.kind == "chp_trip" and self.target in ("chp", "chp2")):
            raise ValueError(f"a '{self.kind}' fault takes no target (only chp_trip does: "
                             "target = \"chp\" or \"chp2\")")
        if self.kind in LINK_KINDS and not self.device:
            raise ValueError(
                f"a '{self.kind}' fault needs device = \"plc\" | \"analyser\" | \"chp\"")
        if self.kind == "exception" and self.magnitude not in (None, 2.0, 4.0, 6.0):
            raise ValueError("exception faults take magnitude = 2, 4 or 6 (Modbus code)")
        return self

    def to_active(self, scale_s: float = 3600.0) -> ActiveFault:
        mag = self.magnitude if self.magnitude is not None else DEFAULT_MAGNITUDE.get(
            self.kind, 0.0)
        start = self.start_h * scale_s
        return ActiveFault(
            kind=self.kind, start_s=start, end_s=start + self.duration_h * scale_s,
            target=self.target, device=self.device, magnitude=mag, ramp_h=self.ramp_h,
            inhibition=self.inhibition, probability=self.probability)

    @property
    def family(self) -> str:
        if self.kind in PROCESS_KINDS:
            return "process"
        return "sensor" if self.kind in SENSOR_KINDS else "link"


class ScenarioHeader(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "unnamed"
    description: str = ""
    plant: str | None = Field(default=None, description="a plant file of simulator/plants/ "
                                                         "(by name) or a path; [plant] "
                                                         "overrides it")
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    duration_h: float | None = Field(default=None, gt=0.0)
    repeat_h: float | None = Field(default=None, gt=0.0,
                                   description="repeat the fault schedule with this period")
    seed: int = 0
    speed: float = Field(default=60.0, gt=0.0, le=1e6)
    step_s: float = Field(default=60.0, gt=0.0, le=3600.0)

    @model_validator(mode="after")
    def _utc(self) -> Self:
        if self.start.tzinfo is None:
            raise ValueError("start must carry a zone, e.g. 2026-03-01T00:00:00Z")
        return self


class Scenario(BaseModel):
    """A whole scenario file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scenario: ScenarioHeader = Field(default_factory=ScenarioHeader)
    plant: PlantConfig = Field(default_factory=PlantConfig)
    faults: tuple[FaultSpec, ...] = ()


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _key_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _read_toml(p: Path, what: str) -> dict[str, Any]:
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"{p}: cannot read {what} ({exc.strerror})") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{p}: not valid TOML: {exc}") from None


def plant_file(name: str, source: str) -> dict[str, Any]:
    """The ``[plant]`` table of a plant file (a name in simulator/plants/, or a path)."""
    p = Path(name)
    if not p.exists() and not p.suffix:
        p = PLANT_DIR / f"{p.name}.toml"
    if not p.exists():
        raise ScenarioError(f"{source}: scenario.plant: no plant file {name!r}; use one of "
                            f"{sorted(list_plants())} or a path")
    table = _read_toml(p, "plant file").get("plant")
    if not isinstance(table, dict):
        raise ScenarioError(f"{p}: a plant file holds one [plant] table (PlantConfig fields)")
    return table


def list_plants() -> list[str]:
    """Names of the plant configurations shipped in simulator/plants/."""
    return sorted(f.stem for f in PLANT_DIR.glob("*.toml"))


def parse_scenario(data: dict[str, Any], source: str = "<scenario>") -> Scenario:
    """Validate a scenario mapping: the defaults, then the plant file named by
    ``scenario.plant``, then the scenario's own ``[plant]`` table, deep-merged in that order."""
    data = dict(data)
    header = data.get("scenario")
    base = PlantConfig().model_dump()
    if isinstance(header, dict) and isinstance(header.get("plant"), str):
        base = _deep_merge(base, plant_file(header["plant"], source))
    if "plant" in data or base != PlantConfig().model_dump():
        if not isinstance(data.get("plant", {}), dict):
            raise ScenarioError(f"{source}: plant: must be a table, e.g. [plant.digester]")
        data["plant"] = _deep_merge(base, data.get("plant", {}))
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            lines.append(f"{source}: {_key_path(err['loc']) or '<top>'}: {err['msg']}")
        raise ScenarioError("\n".join(lines) + "\nfix the key(s) above; see "
                            "simulator/README.md for the format") from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; a bare name is looked up in simulator/scenarios/."""
    p = Path(path)
    if not p.exists() and not p.suffix and (SCENARIO_DIR / f"{p}.toml").exists():
        p = SCENARIO_DIR / f"{p}.toml"
    if not p.exists():
        raise ScenarioError(f"{p}: cannot read scenario file (no such file); "
                            f"give a path or one of {sorted(list_scenarios())}")
    return parse_scenario(_read_toml(p, "scenario file"), str(p))


def list_scenarios(folder: str | None = None) -> list[str]:
    """Names of the scenarios shipped in simulator/scenarios/ (``tuning/...`` and
    ``evaluation/...`` for the detection suites), or only those of one of its folders."""
    root = SCENARIO_DIR / folder if folder else SCENARIO_DIR
    return sorted(str(f.relative_to(SCENARIO_DIR).with_suffix(""))
                  for f in root.rglob("*.toml"))
