"""Daily KPIs from hourly rollups, the plant profile and lab results (DOMAIN.md section 7)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from api.kpis import HourRow, LabValue, daily_kpis
from api.profiles import PlantProfile

DAY = date(2026, 3, 1)
START = datetime(2026, 3, 1, tzinfo=UTC)
END = {DAY: START + timedelta(days=1)}


def hours(tag: str, value: float, *, rising: float = 0.0) -> list[HourRow]:
    return [HourRow(tag, START + timedelta(hours=h), value + rising * h,
                    value + rising * h, value + rising * (h + 1)) for h in range(24)]


ROWS = (hours("gas.flow_chp", 240) + hours("gas.flow_flare", 10) + hours("gas.ch4", 52)
        + hours("chp.energy_el", 0, rising=500) + hours("chp.p_th", 520)
        + hours("chp.run", 1) + [HourRow("feed.solid_today", START, 15, 0, 30),
                                 HourRow("feed.liquid_m3", START, 10, 0, 20)])


def test_kpis_of_the_default_plant_day() -> None:
    [k] = daily_kpis(PlantProfile(), ROWS, [], [DAY], END)
    assert k.coverage_hours == 24
    assert k.biogas_nm3 == pytest.approx(6000) and k.flare_nm3 == pytest.approx(240)
    assert k.methane_nm3 == pytest.approx(6000 * 0.52)
    ots = 30_000 * 0.33 * 0.95 + 20_000 * 0.09 * 0.80
    assert k.ots_fed_kg == pytest.approx(ots)
    assert k.organic_loading_rate == pytest.approx(ots / 2500)
    assert k.specific_biogas_yield == pytest.approx(6000 / ots)
    assert k.specific_methane_yield == pytest.approx(6000 * 0.52 / ots)
    assert k.electricity_kwh == pytest.approx(12_000)
    assert k.chp_electrical_efficiency == pytest.approx(12_000 / (5760 * 0.52 * 9.97))
    assert k.chp_thermal_efficiency == pytest.approx(24 * 520 / (5760 * 0.52 * 9.97))
    assert k.availability == pytest.approx(1.0)
    assert k.capacity_utilisation == pytest.approx(12_000 / (500 * 24))
    assert k.flare_losses == pytest.approx(0.04)


def test_lab_solids_override_the_profile_and_missing_inputs_give_none() -> None:
    lab = [LabValue("maize_silage-0301", "ts", 35.0, "%", START - timedelta(days=2)),
           LabValue("maize_silage-0302", "ts", 99.0, "%", START + timedelta(days=2))]
    [k] = daily_kpis(PlantProfile(), ROWS, lab, [DAY], END)
    assert k.ots_fed_kg == pytest.approx(30_000 * 0.35 * 0.95 + 20_000 * 0.09 * 0.80)
    [empty] = daily_kpis(PlantProfile(), [], [], [DAY], END)
    assert empty.coverage_hours == 0
    assert empty.biogas_nm3 is None and empty.organic_loading_rate is None
    assert empty.chp_electrical_efficiency is None and empty.flare_losses is None
