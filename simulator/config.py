"""Plant configuration: the default 500 kWel agricultural plant of DOMAIN.md section 1.

Every value here is an engineering assumption unless DOMAIN.md cites a source for it; all of them
can be overridden from a scenario file (``[plant]`` table, same key names).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from simulator.am2 import AM2Params


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Substrate(_Frozen):
    """One feed stream."""

    name: str
    amount_per_day: float = Field(ge=0.0, description="t/d (solids) or m³/d (liquids)")
    ts: float = Field(gt=0.0, le=1.0, description="total solids, fraction of fresh mass")
    ots: float = Field(gt=0.0, le=1.0, description="organic fraction of TS")
    ch4_yield: float = Field(gt=0.0, description="specific methane potential, Nm³ CH4/kg oTS")
    density: float = Field(default=1.0, gt=0.0, description="t/m³")
    fast_fraction: float = Field(default=0.3, ge=0.0, le=1.0,
                                 description="easily degradable share of its COD")
    solid: bool = Field(default=True, description="dosed by the solids feeder in portions")


def _default_substrates() -> tuple[Substrate, ...]:
    return (
        Substrate(name="maize_silage", amount_per_day=30.0, ts=0.33, ots=0.95, ch4_yield=0.33,
                  density=0.75, fast_fraction=0.3, solid=True),
        Substrate(name="cattle_slurry", amount_per_day=20.0, ts=0.09, ots=0.80, ch4_yield=0.20,
                  density=1.0, fast_fraction=0.2, solid=False),
    )


def _agri_am2() -> AM2Params:
    # Bernard's mu2max (0.74 d⁻¹) belongs to a fixed-bed wastewater reactor; a long-HRT crop
    # digester has slow acetoclastic methanogens (assumption), which also gives a realistic
    # methanogen capacity of about twice the normal load. k5 is lowered so that the raw gas
    # holds ~52 % CH4 (crop carbohydrates), see simulator/README.md.
    return AM2Params(mu2max=0.06, k5=285.0)


class DigesterConfig(_Frozen):
    volume_m3: float = Field(default=2500.0, gt=0.0)
    area_m2: float = Field(default=500.0, gt=0.0, description="liquid surface for the level")
    level_low_m: float = Field(default=4.95, gt=0.0, description="digestate pump stops")
    level_high_m: float = Field(default=5.05, gt=0.0, description="digestate pump starts")
    level_hh_m: float = Field(default=5.6, gt=0.0, description="high-high alarm")
    digestate_pump_m3_h: float = Field(default=12.0, gt=0.0)
    temp_setpoint_c: float = Field(default=40.0, description="also AM2 t_ref")
    temp_init_c: float = 40.0
    heat_capacity_mj_k_m3: float = 4.18
    ua_kw_k: float = Field(default=1.2, ge=0.0, description="wall and roof losses")
    feed_temp_c: float = 10.0
    ambient_temp_c: float = 10.0
    ambient_swing_c: float = Field(default=5.0, ge=0.0, description="half day-night amplitude")
    z_in: float = Field(default=200.0, gt=0.0, description="feed alkalinity, mmol/L")
    c_in: float = Field(default=180.0, ge=0.0, description="feed inorganic carbon, mmol/L")
    degradation_efficiency: float = Field(default=0.9, gt=0.0, le=1.0,
                                          description="share of the lab potential reached")
    fos_bias: float = Field(default=0.2, ge=0.0,
                            description="Nordmann titration offset added to FOS/TAC")
    am2: AM2Params = Field(default_factory=_agri_am2)


class FeedConfig(_Frozen):
    substrates: tuple[Substrate, ...] = Field(default_factory=_default_substrates)
    portions_per_day: int = Field(default=24, ge=1, le=288)
    liquid_doses_per_day: int = Field(default=6, ge=1, le=288)
    feed_pump_m3_h: float = Field(default=20.0, gt=0.0)
    feeder_capacity_t: float = Field(default=20.0, gt=0.0, description="refilled when low")


class GasStorageConfig(_Frozen):
    capacity_m3: float = Field(default=2000.0, gt=0.0)
    fill_init: float = Field(default=0.5, ge=0.0, le=1.0)
    pressure_setpoint_mbar: float = 2.5
    overpressure_mbar: float = 15.0
    flare_on: float = Field(default=0.90, description="fill fraction that starts the flare")
    flare_off: float = Field(default=0.80)
    flare: bool = Field(default=True, description="an emergency flare (else the "
                                                   "over-pressure valve vents the surplus)")
    flare_capacity_nm3_h: float = Field(default=400.0, gt=0.0)
    solar_swing: float = Field(default=0.02, ge=0.0, description="apparent fill, day cycle")


class ChpConfig(_Frozen):
    units: int = Field(default=1, ge=1, le=2,
                       description="identical engines; the second (tags chp2.*) stops first "
                                   "when gas runs short and restarts last")
    p_rated_kw: float = Field(default=500.0, gt=0.0, description="per unit")
    eta_el: float = Field(default=0.40, gt=0.0, lt=1.0)
    eta_loss_per_10kh: float = Field(default=0.004, ge=0.0)
    heat_ratio: float = Field(default=1.05, gt=0.0, description="P_th / P_el")
    hours_init: float = Field(default=12000.0, ge=0.0)
    energy_init_kwh: float = Field(default=5.5e6, ge=0.0)
    start_ramp_s: float = Field(default=180.0, gt=0.0)
    min_fill: float = Field(default=0.05, description="stops below, restarts above restart_fill")
    restart_fill: float = Field(default=0.25)
    derate_fill: float = Field(default=0.15, description="runs at part load below this fill")
    min_ch4_pct: float = Field(default=42.0, description="trips below this CH4 %")
    lhv_kwh_nm3: float = 9.97


class HeatingConfig(_Frozen):
    max_kw: float = Field(default=250.0, gt=0.0)
    hysteresis_c: float = Field(default=0.15, gt=0.0)
    supply_temp_c: float = 85.0
    flow_kw_per_k: float = Field(default=12.5, gt=0.0, description="m·cp of the circuit")
    boiler_kw: float = Field(default=0.0, ge=0.0, description="backup boiler; 0 = none")


class AgitatorConfig(_Frozen):
    on_min: float = Field(default=10.0, gt=0.0)
    off_min: float = Field(default=20.0, gt=0.0)
    current_a: float = Field(default=18.0, gt=0.0)
    speed_rpm: float = Field(default=320.0, gt=0.0)


class AnalyserConfig(_Frozen):
    points: tuple[int, ...] = Field(default=(1, 2, 3), description="sample-point cycle")
    dwell_min: float = Field(default=10.0, gt=0.0, description="time on each sample point")
    purge_min: float = Field(default=1.0, ge=0.0, description="flush after each switch")
    h2s_raw_ppm: float = Field(default=2500.0, ge=0.0)
    air_dosing_pct: float = Field(default=3.0, ge=0.0, description="air as % of biogas")
    h2s_removal_per_pct: float = Field(default=1.1, ge=0.0, description="exp(-k·air %)")
    h2s_lag_h: float = Field(default=2.0, gt=0.0)
    o2_consumed: float = Field(default=0.6, ge=0.0, le=1.0, description="share of dosed O2 used")
    titration_interval_h: float = Field(default=6.0, gt=0.0, description="online FOS/TAC")


class NamingConfig(_Frozen):
    """How the plant's own edge configuration names its tags, and which it lacks. The
    simulator always computes every canonical tag (the register map serves those); offline
    evaluation and labels use the plant's names."""

    rename: dict[str, str] = Field(default_factory=dict,
                                   description="canonical tag id -> the plant's tag name")
    omit: tuple[str, ...] = Field(default=(), description="canonical tags the plant lacks "
                                                          "(fnmatch patterns)")

    def name(self, tag: str) -> str | None:
        """The plant's name for a canonical tag, or None when the plant lacks it."""
        if any(fnmatch.fnmatchcase(tag, pattern) for pattern in self.omit):
            return None
        return self.rename.get(tag, tag)

    def table(self, tags: Iterable[str]) -> dict[str, str]:
        """Canonical tag -> the plant's name, for the tags the plant has."""
        return {tag: name for tag in tags if (name := self.name(tag)) is not None}


class PlantConfig(_Frozen):
    """Everything the process and equipment models need."""

    name: str = Field(default="agri-500", description="which plant configuration this is")
    description: str = ""

    digester: DigesterConfig = Field(default_factory=DigesterConfig)
    feed: FeedConfig = Field(default_factory=FeedConfig)
    storage: GasStorageConfig = Field(default_factory=GasStorageConfig)
    chp: ChpConfig = Field(default_factory=ChpConfig)
    heating: HeatingConfig = Field(default_factory=HeatingConfig)
    agitator: AgitatorConfig = Field(default_factory=AgitatorConfig)
    analyser: AnalyserConfig = Field(default_factory=AnalyserConfig)
    max_substep_s: float = Field(default=300.0, gt=0.0, le=600.0,
                                 description="longest internal integration step")
    noise: bool = Field(default=True, description="add measurement noise")
    naming: NamingConfig = Field(default_factory=NamingConfig)
