"""Offline runs of the online detector path: SKAB, NAB and simulator runners on small slices."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from agents.detectors.baseline import BaselineConfig
from agents.stream_state import DetectionConfig
from cli.eval_cmd import eval_app
from evaluation.nab_data import NabFile, load_nab
from evaluation.nab_runner import novelty_rules, row_scores, score_corpus, series_scores
from evaluation.replay import ReplayOptions, TableReplay, tag_name
from evaluation.sim_recovery import recovered_at
from evaluation.sim_runner import run_scenario
from evaluation.sim_scoring import CLEAR_AFTER_S, RunData, score
from evaluation.skab_data import load_skab
from evaluation.skab_runner import MODELS_ONLY, predict_file, score_files
from simulator.scenario import parse_scenario

SKAB = Path(__file__).resolve().parents[3] / "shared" / "bench" / "skab"
NAB = SKAB.parent / "nab"


SHORT = DetectionConfig(baseline=BaselineConfig(commission_s=400.0, min_samples=100))
STATISTICAL = DetectionConfig(statistical=True, baseline=None)


@pytest.mark.parametrize("config", [SHORT, STATISTICAL], ids=["baseline", "statistical"])
def test_replay_flags_a_step_through_the_pipeline(config: DetectionConfig) -> None:
    rng = np.random.default_rng(0)
    n = 900
    values = rng.normal(10.0, 0.1, size=(n, 2))
    values[700:, 0] += 5.0  # a step of 50 noise sigmas on the first column
    result = TableReplay(["a b", "c"], ReplayOptions(config=config)).run(
        np.arange(n, dtype=np.float64) + 1.6e9, values)
    assert not result.flags[:600].any()
    assert result.flags[700]
    assert result.tags[700][0] == "a_b"
    assert result.strength[700] >= 1.0
    assert tag_name("Volume Flow RateRMS") == "Volume_Flow_RateRMS"


def test_nab_scores_put_the_vote_at_the_fixed_threshold() -> None:
    assert row_scores(np.array([0.0, 1.0, 2.0])).tolist() == [0.0, 0.5, 0.75]
    rng = np.random.default_rng(1)
    n = 1500
    values = rng.normal(0.0, 1.0, n)
    values[1200] = 40.0
    f = NabFile("synthetic.csv", (1_400_000_000 + 300 * np.arange(n)).astype(np.int64), values,
                ((1150, 1250),))
    scores = series_scores(f, ReplayOptions(config=STATISTICAL), seconds_per_row=5.0)
    assert scores[1200] >= 0.5
    run = score_corpus([f], [scores])
    assert run.fixed[0].detected_windows == 1
    assert run.tuned[0].normalised >= run.fixed[0].normalised


@pytest.mark.skipif(not SKAB.is_dir(), reason="SKAB data not beside the project")
def test_skab_runner_on_one_file_finds_the_valve_fault() -> None:
    files = [f for f in load_skab(SKAB) if f.name == "valve1/3.csv"]
    prediction = predict_file(files[0], ReplayOptions(config=STATISTICAL), ["iforest"])
    run = score_files(files, [prediction])
    assert run.test_rows == len(files[0].times) - 400
    assert run.outlier.f1 > 0.6  # the valve fault is found
    assert run.outlier.far < 15.0


@pytest.mark.skipif(not SKAB.is_dir(), reason="SKAB data not beside the project")
@pytest.mark.detection
def test_skab_envelope_alone_beats_the_published_rows() -> None:
    """The whole benchmark through the online path: the envelope fitted on each file's 400
    training rows, the per-reading detectors kept away (what ``biogas eval skab`` runs)."""
    files = load_skab(SKAB)
    options = ReplayOptions(config=DetectionConfig(baseline=None), rules=MODELS_ONLY)
    run = score_files(files, [predict_file(f, options, ["envelope"]) for f in files])
    assert run.files == 34 and run.test_rows == 23_801
    assert run.outlier.f1 >= 0.80 and run.outlier.far <= 15.0  # best published: F1 0.78


@pytest.mark.skipif(not NAB.is_dir(), reason="NAB data not beside the project")
@pytest.mark.detection
def test_nab_novelty_alone_reaches_the_published_htm_row() -> None:
    """The whole corpus through the online path with the novelty detector alone (what
    ``biogas eval nab`` runs); NAB hands each detector the file's probation length."""
    files = load_nab(NAB)
    scores = [series_scores(f, ReplayOptions(config=DetectionConfig(baseline=None),
                                             rules=novelty_rules(f))) for f in files]
    run = score_corpus(files, scores)
    standard = run.fixed[0]
    assert (standard.profile, standard.windows, len(files)) == ("standard", 116, 58)
    assert standard.normalised >= 70.0  # Numenta HTM 70.1, CAD OSE 69.9
    assert run.tuned[0].normalised >= standard.normalised


@pytest.mark.parametrize(("args", "message"), [
    (["nab", "--detector", "oracle"], "use novelty or statistical"),
    (["nab", "--plant-rules"], "goes with --detector statistical"),
    (["nab", "--detector", "statistical", "--rest-scans", "9"], "goes with --detector novelty"),
])
def test_eval_nab_refuses_what_cannot_run(args: list[str], message: str) -> None:
    result = CliRunner().invoke(eval_app, args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


@pytest.mark.parametrize(("args", "message"), [
    (["--models", "iforest"], "add --per-reading-detectors"),
    (["--models", "none"], "without a model nothing votes"),
    (["--models", "crystal-ball"], "unknown model 'crystal-ball'"),
    (["--envelope-columns", "Pressure,Colour"], "unknown ['Colour']"),
])
def test_eval_skab_refuses_what_cannot_run(args: list[str], message: str) -> None:
    result = CliRunner().invoke(eval_app, ["skab", *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_sim_scoring_is_honest_about_detections_and_false_alarms() -> None:
    """A fault counts only by a new alert on its own tags; standing alerts count by the hour."""
    elapsed = np.arange(0, 40 * 3600, 60, dtype=np.float64)
    flags = np.zeros(len(elapsed), dtype=np.bool_)
    tags: list[tuple[str, ...]] = [()] * len(elapsed)

    def flag(rows: range, tag: str) -> None:
        for i in rows:
            flags[i] = True
            tags[i] = (*tags[i], tag)

    flag(range(300, 302), "heat.supply_temp")  # 5 h: a new alert on a tag the fault acts on
    flag(range(590, 600), "gas.h2s")  # 9.8 h: an alert on an unrelated tag inside a fault
    flag(range(2160, 2280), "dig1.ph")  # 36-38 h: two hours in alarm, after every recovery
    start = datetime(2026, 3, 1, tzinfo=UTC)

    def label(kind: str, family: str, hours: tuple[int, int], acts_on: list[str],
              target: str = "plant") -> dict[str, object]:
        return {"kind": kind, "family": family, "target": target, "acts_on": acts_on,
                "moves": [], "magnitude": 1.0,
                "start": f"2026-03-01T{hours[0]:02d}:50:00+00:00",
                "end": f"2026-03-01T{hours[1]:02d}:00:00+00:00"}

    labels = [label("heating_failure", "process", (4, 6), ["heat.supply_temp"]),
              label("chp_trip", "process", (9, 11), ["chp.state"]),
              label("silent", "link", (1, 2), [], "device")]
    data = RunData(elapsed=elapsed, flags=flags, tags=tuple(tags), ph=np.full(len(elapsed), 7.4),
                   scored_from_s=3600.0)
    run = score("t", "p", "tuning", labels, data, start, lambda t: t)
    heating, chp = run.faults
    assert heating.delay_s == 600.0 and heating.by == "heat.supply_temp"
    assert chp.delay_s is None and chp.lenient_delay_s is not None  # only the lenient count
    assert run.unscored == ("silent",)
    assert run.openings == 1  # dig1.ph; the other two opened inside fault windows
    assert run.alarm_s == pytest.approx(119 * 60 + CLEAR_AFTER_S)  # last flag + clear time
    # flag-all: every alert stands from the first row, so it detects nothing
    every = RunData(elapsed=elapsed, flags=np.ones(len(elapsed), dtype=np.bool_),
                    tags=tuple(("heat.supply_temp", "chp.state") for _ in elapsed),
                    ph=data.ph, scored_from_s=3600.0)
    assert all(f.delay_s is None for f in score("t", "p", "tuning", labels, every, start,
                                                  lambda t: t).faults)
    # the plant back from its heating failure only at 37 h (its true state says so): of the
    # pH alarm at 36-38 h only the hour after it counts there; the 24-h rule counts it all
    assert run.alarm_recovered_s == run.alarm_s  # no recovery times: the 24-h rule
    back = RunData(elapsed=elapsed, flags=flags, tags=tuple(tags), ph=data.ph,
                   scored_from_s=3600.0, recovered_s=(37 * 3600.0, 12 * 3600.0, None))
    late = score("t", "p", "tuning", labels, back, start, lambda t: t)
    assert late.openings == run.openings and late.alarm_s == run.alarm_s
    assert late.alarm_recovered_s == pytest.approx(59 * 60 + CLEAR_AFTER_S)
    # quiet time lost: 35-37 h (heating until 37 h instead of 30 h, inside the chp trip's
    # 24 h until 35 h); the chp trip back at 12 h gives nothing back (inside the heating's)
    assert late.quiet_recovered_s == pytest.approx(late.quiet_s - 2 * 3600.0)


def test_a_process_fault_lasts_until_the_plants_true_state_is_back() -> None:
    hours = np.arange(0, 60, 1 / 60)
    elapsed = hours * 3600.0
    start = datetime(2026, 3, 1, tzinfo=UTC)
    # digester temperature: 40 +- 0.2 in the lead-in; heating lost 20-24 h; 4 K down,
    # back up at 0.25 K/h from 24 h: within its band (and 5 % of it) again at 39.1 h
    temp = 40.0 + 0.2 * np.sin(hours)
    temp = np.where((hours >= 20) & (hours < 24), 40.0 - (hours - 20), temp)
    temp = np.where(hours >= 24, np.minimum(36.0 + 0.25 * (hours - 24), temp), temp)
    counter = hours * 100.0  # a counter never returns to its lead-in range: not used
    truth = np.column_stack([temp, counter])
    label = {"kind": "heating_failure", "family": "process",
             "start": "2026-03-01T20:00:00+00:00", "end": "2026-03-02T00:00:00+00:00",
             "acts_on": ["dig1.temp", "chp.hours"], "moves": []}
    sensor = {**label, "family": "sensor"}
    (back, none) = recovered_at([label, sensor], start, ["dig1.temp", "chp.hours"], truth,
                                elapsed, lead_in_s=12 * 3600.0)
    assert none is None
    assert back is not None and 39.0 * 3600 <= back <= 39.3 * 3600
    # a fault whose tags never left: recovered an hour after its end, not sooner
    calm = {**label, "acts_on": ["chp.hours"]}
    assert recovered_at([calm], start, ["dig1.temp", "chp.hours"], truth, elapsed,
                        lead_in_s=12 * 3600.0) == (25 * 3600.0,)


def test_sim_runner_detects_a_stuck_sensor_and_prints_baselines() -> None:
    scenario = parse_scenario({
        "scenario": {"name": "stuck", "start": datetime(2026, 3, 1, tzinfo=UTC), "seed": 2},
        "faults": [{"kind": "stuck", "start_h": 1, "duration_h": 3, "target": "dig1.ph"}]})
    config = DetectionConfig(baseline=BaselineConfig(commission_s=6 * 3600.0))
    result = run_scenario(scenario, ReplayOptions(config=config), lead_in_h=6.0, duration_h=5.0)
    run = result.ours
    assert run.days == pytest.approx(5 / 24)
    (fault,) = run.faults
    assert fault.kind == "stuck" and fault.by == "dig1.ph"
    assert fault.delay_s is not None and fault.delay_s <= 3600.0
    assert set(result.baselines) == {"max-|z|", "PCA T²/SPE", "flag-all"}


def test_sim_runner_scores_a_subspace_model_and_pca_at_its_time_in_alarm() -> None:
    from evaluation.sim_runner import PCA_AT_SUBSPACE, SUBSPACE

    scenario = parse_scenario({
        "scenario": {"name": "leak", "start": datetime(2026, 3, 1, tzinfo=UTC), "seed": 3},
        "faults": [{"kind": "gas_leak", "start_h": 2, "duration_h": 2, "magnitude": 40.0}]})
    config = DetectionConfig(baseline=BaselineConfig(commission_s=6 * 3600.0))
    result = run_scenario(scenario, ReplayOptions(config=config), lead_in_h=8.0,
                          duration_h=6.0, baselines=(), subspace=True)
    model, pca = result.baselines[SUBSPACE], result.baselines[PCA_AT_SUBSPACE]
    (fault,) = model.faults
    assert fault.kind == "gas_leak"
    # PCA's limits were raised until it stood in alarm no longer than the model
    assert pca.alarm_s <= model.alarm_s
    assert model.days == pca.days == pytest.approx(6 / 24)
