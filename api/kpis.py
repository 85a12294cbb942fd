"""Daily KPIs of DOMAIN.md section 7 from the 1-hour rollups, the plant profile and lab results.

Flows and powers are integrated hour by hour (hourly mean × 1 h; hours without data count as
nothing, see ``coverage_hours``). Methane volume is the hour-by-hour product of gas flow and CH4
fraction. The daily feed of each substrate is the day's maximum of its accumulating tag; its
solids come from the latest lab TS/oTS whose sample_id starts with the substrate's name, else
from the profile. Electrical energy is the day's rise of the energy counter (the integral of
electrical power when the counter is missing). Availability is the mean of the CHP running flag
over the hours with data.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from pydantic import BaseModel

from api.profiles import PlantProfile


@dataclass(frozen=True)
class HourRow:
    tag: str
    hour: datetime
    avg: float | None
    min: float | None
    max: float | None


@dataclass(frozen=True)
class LabValue:
    sample_id: str
    analyte: str  # "ts" or "ots"
    value: float
    unit: str
    sampled_at: datetime


class KpiDay(BaseModel):
    day: date
    coverage_hours: int
    biogas_nm3: float | None
    flare_nm3: float | None
    methane_nm3: float | None
    ots_fed_kg: float | None
    organic_loading_rate: float | None
    specific_biogas_yield: float | None
    specific_methane_yield: float | None
    electricity_kwh: float | None
    heat_kwh: float | None
    chp_electrical_efficiency: float | None
    chp_thermal_efficiency: float | None
    availability: float | None
    capacity_utilisation: float | None
    flare_losses: float | None


@dataclass
class _Day:
    hours: dict[str, dict[datetime, HourRow]] = field(default_factory=lambda: defaultdict(dict))

    def integral(self, tag: str) -> float | None:
        values = [r.avg for r in self.hours.get(tag, {}).values() if r.avg is not None]
        return sum(values) if values else None

    def extreme(self, tag: str) -> tuple[float, float] | None:
        rows = [r for r in self.hours.get(tag, {}).values()
                if r.min is not None and r.max is not None]
        if not rows:
            return None
        return min(r.min for r in rows if r.min is not None), \
            max(r.max for r in rows if r.max is not None)


def _ratio(num: float | None, den: float | None) -> float | None:
    if num is None or den is None or den <= 0:
        return None
    return num / den


def _fraction(value: LabValue) -> float:
    return value.value / 100.0 if value.unit.strip() == "%" or value.value > 1 else value.value


def _solids(profile: PlantProfile, lab: list[LabValue], name: str, default: float,
            analyte: str, until: datetime) -> float:
    latest = [v for v in lab if v.analyte == analyte and v.sample_id.startswith(name)
              and v.sampled_at < until]
    return _fraction(max(latest, key=lambda v: v.sampled_at)) if latest else default


def daily_kpis(profile: PlantProfile, rows: list[HourRow], lab: list[LabValue],
               days: list[date], day_end: dict[date, datetime]) -> list[KpiDay]:
    """One :class:`KpiDay` per requested day."""
    by_day: dict[date, _Day] = defaultdict(_Day)
    for row in rows:
        by_day[row.hour.date()].hours[row.tag][row.hour] = row
    p = profile
    out = []
    for day in days:
        d = by_day.get(day, _Day())
        covered = {h for tag_rows in d.hours.values() for h in tag_rows}
        chp, flare = d.integral(p.gas_flow_chp), d.integral(p.gas_flow_flare)
        total = None if chp is None and flare is None else (chp or 0.0) + (flare or 0.0)
        ch4_chp = ch4_total = 0.0
        have_ch4 = False
        for hour, ch4 in d.hours.get(p.gas_ch4, {}).items():
            if ch4.avg is None:
                continue
            x = ch4.avg / 100.0
            f_chp = d.hours.get(p.gas_flow_chp, {}).get(hour)
            f_flare = d.hours.get(p.gas_flow_flare, {}).get(hour)
            chp_h = f_chp.avg if f_chp and f_chp.avg is not None else 0.0
            flare_h = f_flare.avg if f_flare and f_flare.avg is not None else 0.0
            ch4_chp += chp_h * x
            ch4_total += (chp_h + flare_h) * x
            have_ch4 = True
        ots = 0.0
        have_feed = False
        for s in p.substrates:
            amount = d.extreme(s.tag)
            if amount is None:
                continue
            have_feed = True
            ts = _solids(p, lab, s.name, s.ts, "ts", day_end[day])
            ots_share = _solids(p, lab, s.name, s.ots, "ots", day_end[day])
            ots += max(amount[1], 0.0) * s.tonnes_per_unit * 1000.0 * ts * ots_share
        ots_kg = ots if have_feed else None
        counter = d.extreme(p.chp_energy_el)
        e_el = counter[1] - counter[0] if counter else d.integral(p.chp_p_el)
        heat = d.integral(p.chp_p_th)
        fuel = ch4_chp * p.ch4_lhv_kwh_nm3 if have_ch4 else None
        running = d.integral(p.chp_running)
        run_hours = len(d.hours.get(p.chp_running, {}))
        out.append(KpiDay(
            day=day, coverage_hours=len(covered), biogas_nm3=total, flare_nm3=flare,
            methane_nm3=ch4_total if have_ch4 else None, ots_fed_kg=ots_kg,
            organic_loading_rate=_ratio(ots_kg, p.working_volume_m3),
            specific_biogas_yield=_ratio(total, ots_kg),
            specific_methane_yield=_ratio(ch4_total if have_ch4 else None, ots_kg),
            electricity_kwh=e_el, heat_kwh=heat,
            chp_electrical_efficiency=_ratio(e_el, fuel),
            chp_thermal_efficiency=_ratio(heat, fuel),
            availability=_ratio(running, run_hours),
            capacity_utilisation=_ratio(e_el, p.chp_rated_kw * 24.0),
            flare_losses=_ratio(flare, total)))
    return out
