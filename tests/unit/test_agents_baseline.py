"""The baseline detector: kinds and bands learnt while commissioning, then every check."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from agents.detectors.baseline import KINDS, BaselineConfig
from agents.detectors.rules import DEFAULT_RULES, RuleSpec
from agents.pipeline import ScanProcessor, stream_key
from agents.stream_state import DetectionConfig
from modelops.rules_suggest import processor_for, suggestions
from streams.events import (
    AnomalyDetected,
    Quality,
    Reading,
    ScanRecorded,
    TagKind,
    TagsConfigured,
    TagSpec,
)

START = datetime(2026, 3, 1, tzinfo=UTC)
STEP_S = 30.0
COMMISSION_S = 24 * 3600.0
CONFIG = DetectionConfig(baseline=BaselineConfig(commission_s=COMMISSION_S, min_samples=100))
TAGS = ("temp", "current", "state", "total", "alarm_word", "holder")


def plant_values(k: int, rng: np.random.Generator) -> dict[str, float]:
    """Scan ``k`` of a small healthy plant: a noisy temperature, a pump current that is 0 or
    about 11 A, a state that switches between 1 and 2, a totaliser that wraps, an alarm word
    that stays 0 and a holder level with a two-hour wave."""
    t = k * STEP_S
    return {
        "temp": 40.0 + 0.05 * rng.standard_normal(),
        "current": (11.0 + 0.2 * rng.standard_normal()) if (k // 60) % 3 == 0 else 0.0,
        "state": 1.0 if (k // 90) % 2 == 0 else 2.0,
        "total": float((k * 7) % 5000),
        "alarm_word": 0.0,
        "holder": 50.0 + 3.0 * np.sin(2 * np.pi * t / 7200.0) + 0.1 * rng.standard_normal(),
    }


def scans(n: int, faults: Mapping[int, Mapping[str, float | None]] | None = None,
          seed: int = 3) -> list[ScanRecorded]:
    """``n`` scans; ``faults[k]`` overrides tag values of scan ``k`` on (None: no value)."""
    rng = np.random.default_rng(seed)
    boot = uuid.uuid5(uuid.NAMESPACE_URL, "baseline-test")
    out = []
    override: dict[str, float | None] = {}
    for k in range(n):
        override.update((faults or {}).get(k, {}))
        values: dict[str, float | None] = {**plant_values(k, rng), **override}
        readings = tuple(
            Reading(tag=tag, value=v, quality=Quality.GOOD) if v is not None
            else Reading(tag=tag, value=None, quality=Quality.COMM_FAIL)
            for tag, v in values.items())
        out.append(ScanRecorded(plant_id="p", edge_boot_id=boot, seq=k, device="plc",
                                poll_group="fast", readings=readings,
                                source_ts=START + timedelta(seconds=k * STEP_S)))
    return out


def run(items: list[ScanRecorded], rules: tuple[RuleSpec, ...] = DEFAULT_RULES,
        proc: ScanProcessor | None = None) -> tuple[ScanProcessor, list[AnomalyDetected]]:
    proc = proc or ScanProcessor(CONFIG, rules, late_after_s=1e12,
                                 clock=lambda: START + timedelta(days=30))
    found = [a for s in items for a in proc.process(s).anomalies]
    return proc, found


def checks(anomalies: list[AnomalyDetected], tag: str) -> set[str]:
    """The baseline checks that flagged ``tag``."""
    return {c.name.split(":baseline.")[1] for a in anomalies for c in a.top_features
            if c.name.startswith(f"{tag}:baseline.")}


COMMISSIONED = int(COMMISSION_S / STEP_S) + 10
DAY = int(86400 / STEP_S)


def test_commissioning_learns_kinds_and_a_healthy_plant_stays_quiet() -> None:
    proc, found = run(scans(DAY + DAY // 2))
    assert found == []
    bank = proc.states[stream_key(scans(1)[0])].baseline
    kinds = {tag: bank.learnt(i)["kind"] for i, tag in enumerate(TAGS)}
    assert kinds == {"temp": "analog", "current": "analog", "state": "discrete",
                     "total": "counter", "alarm_word": "discrete", "holder": "analog"}
    assert bank.learnt(TAGS.index("state"))["states"] == [1.0, 2.0]


@pytest.mark.parametrize(("tag", "value", "check"), [
    ("temp", 43.0, "value"),  # a jump far outside the band
    ("temp", 40.25, "mean_10m"),  # an offset inside the raw band, outside the means' band
    ("state", 4.0, "state"),  # a state never seen
    ("alarm_word", 32.0, "state"),  # an alarm bit never set while commissioning
])
def test_a_departure_is_flagged_by_the_check_that_sees_it(tag: str, value: float,
                                                          check: str) -> None:
    at = COMMISSIONED + 200
    _, found = run(scans(at + 120, {at: {tag: value}}))
    mine = [a for a in found if tag in a.tags]
    assert mine and mine[0].event_time >= START + timedelta(seconds=at * STEP_S)
    assert check in checks(mine, tag)
    assert not [a for a in found if a.event_time < START + timedelta(seconds=at * STEP_S)]


def test_stuck_stalled_and_missing_values_are_flagged() -> None:
    at = COMMISSIONED + 200
    stuck = {at: {"temp": 40.01}}
    _, found = run(scans(at + 400, stuck))
    assert "stuck" in checks(found, "temp")
    _, found = run(scans(at + 400, {at: {"total": 123.0}}))  # the totaliser stops counting
    assert "stalled" in checks(found, "total")
    _, found = run(scans(at + 60, {at: {"temp": None}}))  # no value any more
    assert "missing" in checks(found, "temp")


def test_standing_still_at_zero_is_learnt_apart_from_standing_still_elsewhere() -> None:
    """Equipment that is off reads exactly 0 for long stretches; a live value standing still
    for as long is stuck: the detector learns the two apart."""
    proc, _ = run(scans(COMMISSIONED + 1))
    current = proc.states["p|plc|fast"].baseline.learnt(TAGS.index("current"))
    assert current["longest_standstill_at_zero_s"] >= 110 * STEP_S  # 120 scans off
    assert current["longest_standstill_s"] <= STEP_S  # noisy while on


def test_a_rule_forces_a_kind_an_integrator_is_judged_by_its_pace() -> None:
    rules = (RuleSpec(pattern="holder", kind="integrator"),
             RuleSpec(pattern="alarm_word", kind="alarm"), *DEFAULT_RULES)
    at = COMMISSIONED + 200
    # the holder climbs, at a normal pace, to a level never seen: not a fault
    def holder(k: int) -> float:
        wave = 3.0 * float(np.sin(2 * np.pi * k * STEP_S / 7200.0))
        return 50.0 + wave + 0.0005 * STEP_S * (k - at)

    climb = {k: {"holder": holder(k)} for k in range(at, at + 2000)}
    proc, found = run(scans(at + 2000, climb), rules)
    assert holder(at + 1999) > 58.0
    assert "holder" not in {t for a in found for t in a.tags}
    bank = proc.states["p|plc|fast"].baseline
    assert KINDS[int(bank.kind[TAGS.index("holder")])] == "integrator"
    # it falling fast (0.006 %/s where the wave moves it at most 0.0026 %/s) is
    leak = {k: {"holder": holder(k) - 0.0065 * STEP_S * (k - at)} for k in range(at, at + 600)}
    _, found = run(scans(at + 600, leak), rules)
    assert "slope_1h" in checks(found, "holder")
    _, found = run(scans(at + 10, {at: {"alarm_word": 1.0}}), rules)
    assert "alarm" in checks(found, "alarm_word")


def test_the_learnt_state_survives_a_snapshot() -> None:
    items = scans(COMMISSIONED + 300, {COMMISSIONED + 250: {"state": 4.0}})
    whole_proc, whole = run(items)
    first, part = run(items[:COMMISSIONED - 50])
    key = stream_key(items[0])
    second = ScanProcessor(CONFIG, DEFAULT_RULES, late_after_s=1e12,
                           clock=lambda: START + timedelta(days=30))
    second.restore(key, first.snapshot(key))
    _, rest = run(items[COMMISSIONED - 50:], proc=second)
    assert [a.anomaly_id for a in part + rest] == [a.anomaly_id for a in whole]
    assert second.snapshot(key) == whole_proc.snapshot(key)


def catalogue(**kinds_and_roles: tuple[str | None, str | None]) -> TagsConfigured:
    specs = tuple(TagSpec(tag=tag.replace("__", "."), device="plc", poll_group="fast",
                          poll_interval_s=STEP_S, kind=None if kind is None else TagKind(kind),
                          role=role)
                  for tag, (kind, role) in kinds_and_roles.items())
    return TagsConfigured(plant_id="p", edge_boot_id=uuid.uuid4(), seq=0, configured_at=START,
                          config_sha256="0" * 64, tags=specs)


def test_the_catalogue_gives_kinds_a_rule_overrides_them() -> None:
    proc = ScanProcessor(CONFIG, DEFAULT_RULES, late_after_s=1e12,
                         clock=lambda: START + timedelta(days=30))
    proc.catalogue(catalogue(alarm_word=("alarm", "plc.alarm_word"),
                             holder=("integrator", "gas.holder_fill")))
    at = COMMISSIONED + 200
    _, found = run(scans(at + 10, {at: {"alarm_word": 1.0}}), proc=proc)
    assert "alarm" in checks(found, "alarm_word")
    bank = proc.states["p|plc|fast"].baseline
    assert [KINDS[int(k)] for k in bank.kind[:len(TAGS)]] == [
        "analog", "analog", "discrete", "counter", "alarm", "integrator"]
    ruled = ScanProcessor(CONFIG, (RuleSpec(pattern="holder", kind="analog"), *DEFAULT_RULES),
                          late_after_s=1e12, clock=lambda: START + timedelta(days=30))
    ruled.catalogue(catalogue(holder=("integrator", "gas.holder_fill")))
    run(scans(COMMISSIONED + 1), proc=ruled)
    assert KINDS[int(ruled.states["p|plc|fast"].baseline.kind[TAGS.index("holder")])] == "analog"


def heating_scans(n: int, failed_from: int) -> list[ScanRecorded]:
    """A heating circuit that switches on (20 K between supply and return) and off (2 K),
    whose circulation stops at ``failed_from`` (both at the digester's 40.5 °C)."""
    rng = np.random.default_rng(5)
    boot = uuid.uuid4()
    out = []
    for k in range(n):
        on = (k // 40) % 2 == 0
        supply, back = (85.0, 65.0) if on else (46.0, 44.0)
        if k >= failed_from:
            supply = back = 40.5
        readings = tuple(Reading(tag=tag, value=v + 0.15 * rng.standard_normal(),
                                 quality=Quality.GOOD)
                         for tag, v in (("hz.vorlauf", supply), ("hz.ruecklauf", back)))
        out.append(ScanRecorded(plant_id="p", edge_boot_id=boot, seq=k, device="plc",
                                poll_group="fast", readings=readings,
                                source_ts=START + timedelta(seconds=k * STEP_S)))
    return out


def test_heating_circulation_stopped_is_found_through_the_roles() -> None:
    at = COMMISSIONED + 100
    items = heating_scans(at + 60, failed_from=at)
    proc = ScanProcessor(CONFIG, DEFAULT_RULES, late_after_s=1e12,
                         clock=lambda: START + timedelta(days=30))
    proc.catalogue(catalogue(hz__vorlauf=(None, "heating.supply_temp"),
                             hz__ruecklauf=(None, "heating.return_temp")))
    _, found = run(items, proc=proc)
    said = {(f.tag, f.check) for a in found for f in a.findings}
    assert ("derived:heating.delta_t", "process.circulation") in said
    first = min(a.event_time for a in found if "derived:heating.delta_t" in a.tags)
    assert first >= START + timedelta(seconds=at * STEP_S)
    # without roles the two temperatures alone say nothing the band sees at once
    _, plain = run(items)
    assert not any("derived:heating.delta_t" in a.tags for a in plain)


def test_rules_suggest_proposes_kinds_and_limits_around_the_learnt_band() -> None:
    proc = processor_for(COMMISSION_S)
    for scan in scans(COMMISSIONED + 5):
        proc.process(scan)
    found = {s.tag: s for s in suggestions(proc, "p")}
    assert found["state"].rule == {"pattern": "state", "kind": "discrete"}
    assert found["total"].rule == {"pattern": "total", "kind": "counter"}
    temp = found["temp"].rule
    assert temp is not None and temp["kind"] == "analog"
    low, high = found["temp"].learnt["low"], found["temp"].learnt["high"]
    assert temp["low"] < low < 40.0 < high < temp["high"]
    assert suggestions(processor_for(COMMISSION_S), "p") == []


def test_the_compiled_step_numbers_kinds_and_checks_as_the_detector_names_them() -> None:
    from agents.detectors import baseline_kernels as k
    from agents.detectors.baseline import CHECKS
    assert [KINDS.index(n) for n in ("unknown", "analog", "integrator", "counter", "discrete",
                                   "alarm", "ignore")] == \
        [k.UNKNOWN, k.ANALOG, k.INTEGRATOR, k.COUNTER, k.DISCRETE, k.ALARM, k.IGNORE]
    numbered = [k.VALUE, k.MEAN_10M, k.MEAN_1H, k.SPREAD_10M, k.STUCK, k.SLOPE_1H, k.RATE,
                k.STALLED, k.STATE, k.ALARMED, k.MISSING]
    assert numbered == list(range(len(CHECKS)))
    assert CHECKS[k.ALARMED] == "alarm" and CHECKS[k.SLOPE_1H] == "slope_1h"


def holder_scans(n: int, leak_from: int, leak: float = 12.0,
                 venting_from: int | None = None) -> list[ScanRecorded]:
    """A 1,000 m³ holder between a production of about 100 Nm³/h and a CHP that runs two
    hours in three (120 Nm³/h): its fill follows the net flow; from ``leak_from`` ``leak``
    Nm³/h more go missing (from ``venting_from`` through an open over-pressure valve)."""
    rng = np.random.default_rng(9)
    boot = uuid.uuid4()
    fill, out = 50.0, []
    for k in range(n):
        chp = 120.0 if (k // 120) % 3 != 2 else 0.0
        production = 100.0 + 3.0 * rng.standard_normal()
        lost = leak if k >= leak_from else 0.0
        fill += (production - chp - lost) * STEP_S / 3600.0 / 1000.0 * 100.0
        valve = 1.0 if venting_from is not None and k >= venting_from else 0.0
        readings = tuple(Reading(tag=t, value=v, quality=Quality.GOOD) for t, v in (
            ("fill", fill + 0.05 * rng.standard_normal()), ("production", production),
            ("chp_gas", chp + 0.5 * rng.standard_normal()), ("relief", valve)))
        out.append(ScanRecorded(plant_id="p", edge_boot_id=boot, seq=k, device="plc",
                                poll_group="fast", readings=readings,
                                source_ts=START + timedelta(seconds=k * STEP_S)))
    return out


def test_the_gas_balance_finds_gas_that_escapes_but_not_a_holder_venting() -> None:
    roles = catalogue(fill=("integrator", "gas.holder_fill"), production=(None, "gas.production"),
                      chp_gas=(None, "gas.to_chp"), relief=("discrete", "gas.relief_valve"))
    at = COMMISSIONED + 100

    def found(items: list[ScanRecorded]) -> list[AnomalyDetected]:
        proc = ScanProcessor(CONFIG, DEFAULT_RULES, late_after_s=1e12,
                             clock=lambda: START + timedelta(days=30))
        proc.catalogue(roles)
        return [a for a in run(items, proc=proc)[1]
                if any(f.check == "process.gas_balance" for f in a.findings)]

    assert found(holder_scans(at + 200, leak_from=10 ** 9)) == []
    leaks = found(holder_scans(at + 200, leak_from=at))
    assert leaks and leaks[0].event_time >= START + timedelta(seconds=at * STEP_S)
    finding = next(f for f in leaks[0].findings if f.check == "process.gas_balance")
    assert finding.tag == "fill" and finding.value is not None and finding.value > 0.5
    assert "escapes" in finding.text
    # the same loss through the open over-pressure valve of a full holder: no leak
    assert found(holder_scans(at + 200, leak_from=at, venting_from=at)) == []


def edge_scans(n: int, offset_from: int, offset: float = 5.0,
               held_from: int | None = None) -> list[ScanRecorded]:
    """A heating circuit whose supply sits at its 80 °C set point while the heat source
    runs (three quarters of the time) and falls to 46 °C when it is off; from
    ``offset_from`` its sensor reads ``offset`` K high. ``held_from``: the supply is a
    value held for hours (a lab result), not a live reading, from there on."""
    rng = np.random.default_rng(11)
    boot = uuid.uuid4()
    out = []
    for k in range(n):
        on = (k // 30) % 4 != 0
        supply = (80.0 if on else 46.0) + 0.15 * rng.standard_normal()
        if held_from is not None:
            supply = 80.3 if (k // 240) % 2 == 0 else 46.2
        if k >= offset_from:
            supply += offset
        out.append(ScanRecorded(plant_id="p", edge_boot_id=boot, seq=k, device="plc",
                                poll_group="fast",
                                readings=(Reading(tag="supply", value=supply,
                                                  quality=Quality.GOOD),),
                                source_ts=START + timedelta(seconds=k * STEP_S)))
    return out


def test_an_offset_past_the_edge_a_tag_sat_at_is_found_inside_its_wide_band() -> None:
    at = COMMISSIONED + 200
    # 5 K is far inside half the 34-K band (the band's own margin), but past the set point
    # the supply sat at while commissioning
    _, found = run(edge_scans(at + 120, offset_from=at))
    flagged = [a for a in found if "supply" in a.tags]
    assert flagged and min(a.event_time for a in flagged) >= START + timedelta(
        seconds=at * STEP_S)
    assert "value" in checks(found, "supply")
    # the same readings without the offset stay quiet, and so does a small one within noise
    _, quiet = run(edge_scans(at + 120, offset_from=at, offset=0.0))
    assert not [a for a in quiet if "supply" in a.tags]
    _, small = run(edge_scans(at + 120, offset_from=at, offset=0.3))
    assert not [a for a in small if "supply" in a.tags]


def test_a_held_value_at_its_edge_is_not_a_limit() -> None:
    at = COMMISSIONED + 200
    # the same +5 K on a value held for two hours at a time: its edges are no limit, so only
    # the band's own margin applies
    _, found = run(edge_scans(at + 120, offset_from=at, held_from=0))
    assert not [a for a in found if "supply" in a.tags]


def test_a_snapshot_from_before_edge_counts_restores_without_them() -> None:
    proc, _ = run(edge_scans(COMMISSIONED + 10, offset_from=10 ** 9))
    bank = proc.states["p|plc|fast"].baseline
    meta, arrays = bank.to_parts()
    older = {k: v for k, v in arrays.items() if k not in ("base.at_lo", "base.at_hi")}
    restored = type(bank).from_parts(meta, older, bank.config)
    assert restored.at_hi.shape == bank.at_hi.shape and not restored.at_hi.any()
    assert bank.at_hi.any()  # the live bank did count the set point
    np.testing.assert_array_equal(restored.hi, bank.hi)


def full_load_scans(n: int, shift_from: int, shift: float) -> list[ScanRecorded]:
    """A CHP's gas flow at full load: 245 m3/h with 0.05 m3/h of noise (its bands are a few
    tenths wide), moving ``shift`` m3/h off over the hour from ``shift_from`` (as a plant's
    operating point moves, not a step)."""
    rng = np.random.default_rng(17)
    boot = uuid.uuid4()
    return [ScanRecorded(plant_id="p", edge_boot_id=boot, seq=k, device="plc",
                         poll_group="fast",
                         readings=(Reading(tag="chp_gas",
                                           value=245.0 + 0.05 * rng.standard_normal()
                                           + shift * min(max(k - shift_from, 0) / 120, 1.0),
                                           quality=Quality.GOOD),),
                         source_ts=START + timedelta(seconds=k * STEP_S))
            for k in range(n)]


def test_a_difference_below_an_instruments_accuracy_is_no_finding() -> None:
    at = COMMISSIONED + 200
    # 0.4 m3/h is several widths of the tight bands, but under 0.5 % of 245 m3/h
    _, small = run(full_load_scans(at + 480, at, -0.4))
    assert not [a for a in small if "chp_gas" in a.tags]
    # 5 m3/h (2 %) is found
    _, found = run(full_load_scans(at + 480, at, -5.0))
    assert checks(found, "chp_gas") & {"value", "mean_10m", "mean_1h"}
    # without the accuracy floor the small shift would have been flagged: the floor decides
    strict = ScanProcessor(DetectionConfig(baseline=BaselineConfig(
        commission_s=COMMISSION_S, min_samples=100, accuracy=0.0)), DEFAULT_RULES,
        late_after_s=1e12, clock=lambda: START + timedelta(days=30))
    _, flagged = run(full_load_scans(at + 480, at, -0.4), proc=strict)
    assert [a for a in flagged if "chp_gas" in a.tags]
