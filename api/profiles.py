"""Plant profiles for the KPIs: plant constants and which tag feeds which KPI input.

Read once at start from a TOML file (``BIOGAS_API_PLANT_PROFILES``); plants it does not name
use ``[default]``, whose own defaults are the simulator's default plant (500 kWel, 2,500 m³
digester, 30 t/d maize silage and 20 m³/d cattle slurry)::

    [default]
    working_volume_m3 = 2500
    chp_rated_kw = 500

    [plants.plant-b]
    working_volume_m3 = 4000
    [[plants.plant-b.substrates]]
    name = "grass_silage"
    tag = "feed.solid_today"
    ts = 0.35
    ots = 0.90
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.params import TAG_PATTERN
from streams.errors import ConfigError

TagName = Annotated[str, Field(pattern=TAG_PATTERN, max_length=128)]


class Substrate(BaseModel):
    """One feed stream: the tag holding its daily amount, and its solids when no lab value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="Lab results whose sample_id starts with this "
                      "name override ts/ots (analytes 'ts' and 'ots', in % or as a fraction).")
    tag: TagName = Field(description="Daily amount fed, accumulating over the day (daily max).")
    tonnes_per_unit: float = Field(default=1.0, gt=0,
                                   description="t per unit of the tag (1 for t, density for m³).")
    ts: float = Field(gt=0, le=1, description="Total solids, fraction of fresh mass.")
    ots: float = Field(gt=0, le=1, description="Organic fraction of total solids.")


def _default_substrates() -> tuple[Substrate, ...]:
    return (Substrate(name="maize_silage", tag="feed.solid_today", ts=0.33, ots=0.95),
            Substrate(name="cattle_slurry", tag="feed.liquid_m3", tonnes_per_unit=1.0, ts=0.09,
                      ots=0.80))


class PlantProfile(BaseModel):
    """Constants and tag mapping of one plant."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    working_volume_m3: float = Field(default=2500.0, gt=0)
    chp_rated_kw: float = Field(default=500.0, gt=0)
    ch4_lhv_kwh_nm3: float = Field(default=9.97, gt=0)
    substrates: tuple[Substrate, ...] = Field(default_factory=_default_substrates)
    gas_flow_chp: TagName = "gas.flow_chp"
    gas_flow_flare: TagName = "gas.flow_flare"
    gas_ch4: TagName = "gas.ch4"
    chp_p_el: TagName = "chp.p_el"
    chp_p_th: TagName = "chp.p_th"
    chp_energy_el: TagName = "chp.energy_el"
    chp_running: TagName = Field(default="chp.run",
                                 description="1 while the CHP runs, 0 otherwise.")


class PlantProfiles(BaseModel):
    """Every plant's profile: ``plants[id]`` or else ``default``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default: PlantProfile = Field(default_factory=PlantProfile)
    plants: dict[str, PlantProfile] = Field(default_factory=dict)

    def for_plant(self, plant_id: str) -> PlantProfile:
        return self.plants.get(plant_id, self.default)


def load_profiles(path: Path | None) -> PlantProfiles:
    """The profiles in ``path`` (None: the defaults); a bad file names the key and the fix."""
    if path is None:
        return PlantProfiles()
    try:
        data = tomllib.loads(path.read_text())
        return PlantProfiles.model_validate(data)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read plant profiles ({exc.strerror}); fix "
                          "BIOGAS_API_PLANT_PROFILES") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in exc.errors())
        raise ConfigError(f"{path}: invalid plant profile: {problems}") from exc
