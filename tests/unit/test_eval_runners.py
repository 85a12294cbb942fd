"""Offline runs of the online detector path: SKAB, NAB and simulator runners on small slices."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cli.eval_cmd import eval_app
from evaluation.nab_data import NabFile, load_nab
from evaluation.nab_runner import novelty_rules, row_scores, score_corpus, series_scores
from evaluation.replay import ReplayOptions, ReplayResult, TableReplay, tag_name
from evaluation.sim_runner import run_scenario, score_run
from evaluation.skab_data import load_skab
from evaluation.skab_runner import MODELS_ONLY, predict_file, score_files
from simulator.scenario import parse_scenario

SKAB = Path(__file__).resolve().parents[3] / "shared" / "bench" / "skab"
NAB = SKAB.parent / "nab"


def test_replay_flags_a_step_through_the_pipeline() -> None:
    rng = np.random.default_rng(0)
    n = 900
    values = rng.normal(10.0, 0.1, size=(n, 2))
    values[700:, 0] += 5.0  # a step of 50 noise sigmas on the first column
    result = TableReplay(["a b", "c"], ReplayOptions()).run(np.arange(n, dtype=np.float64) + 1.6e9,
                                                          values)
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
    scores = series_scores(f, ReplayOptions(), seconds_per_row=5.0)
    assert scores[1200] >= 0.5
    run = score_corpus([f], [scores])
    assert run.fixed[0].detected_windows == 1
    assert run.tuned[0].normalised >= run.fixed[0].normalised


@pytest.mark.skipif(not SKAB.is_dir(), reason="SKAB data not beside the project")
def test_skab_runner_on_one_file_finds_the_valve_fault() -> None:
    files = [f for f in load_skab(SKAB) if f.name == "valve1/3.csv"]
    prediction = predict_file(files[0], ReplayOptions(), ["iforest"])
    run = score_files(files, [prediction])
    assert run.test_rows == len(files[0].times) - 400
    assert run.outlier.f1 > 0.6  # the valve fault is found
    assert run.outlier.far < 15.0


@pytest.mark.skipif(not SKAB.is_dir(), reason="SKAB data not beside the project")
def test_skab_envelope_alone_beats_the_published_rows() -> None:
    """The whole benchmark through the online path: the envelope fitted on each file's 400
    training rows, the per-reading detectors kept away (what ``biogas eval skab`` runs)."""
    files = load_skab(SKAB)
    options = ReplayOptions(rules=MODELS_ONLY)
    run = score_files(files, [predict_file(f, options, ["envelope"]) for f in files])
    assert run.files == 34 and run.test_rows == 23_801
    assert run.outlier.f1 >= 0.80 and run.outlier.far <= 15.0  # best published: F1 0.78


@pytest.mark.skipif(not NAB.is_dir(), reason="NAB data not beside the project")
def test_nab_novelty_alone_reaches_the_published_htm_row() -> None:
    """The whole corpus through the online path with the novelty detector alone (what
    ``biogas eval nab`` runs); NAB hands each detector the file's probation length."""
    files = load_nab(NAB)
    scores = [series_scores(f, ReplayOptions(rules=novelty_rules(f))) for f in files]
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


def test_sim_scoring_counts_detections_delays_and_false_alerts() -> None:
    elapsed = np.arange(0, 20 * 3600, 60, dtype=np.float64)
    flags = np.zeros(len(elapsed), dtype=np.bool_)
    tags: list[tuple[str, ...]] = [()] * len(elapsed)
    for i in (300, 301, 900):  # 5 h: a fault's flags; 15 h: outside every fault
        flags[i] = True
        tags[i] = ("dig1.temp",)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    labels: list[dict[str, object]] = [
        {"kind": "heating_failure", "family": "process", "target": "plant",
         "start": "2026-03-01T04:50:00+00:00", "end": "2026-03-01T08:00:00+00:00"},
        {"kind": "chp_trip", "family": "process", "target": "plant",
         "start": "2026-03-01T10:00:00+00:00", "end": "2026-03-01T11:00:00+00:00"},
        {"kind": "silent", "family": "link", "target": "device",
         "start": "2026-03-01T01:00:00+00:00", "end": "2026-03-01T02:00:00+00:00"}]
    run = score_run("t", labels, elapsed,
                    ReplayResult(flags, np.where(flags, 2.0, 0.0), tuple(tags)), 20 / 24,
                    start, 3600.0)
    assert [f.delay_s for f in run.faults] == [600.0, None]
    assert run.false_alerts == 1
    assert run.unscored == ("silent",)


def test_sim_runner_detects_a_stuck_sensor() -> None:
    scenario = parse_scenario({
        "scenario": {"name": "stuck", "start": datetime(2026, 3, 1, tzinfo=UTC), "seed": 2},
        "faults": [{"kind": "stuck", "start_h": 1, "duration_h": 3, "target": "dig1.ph"}]})
    run = run_scenario(scenario, ReplayOptions(), lead_in_h=6.0, duration_h=5.0)
    assert run.days == pytest.approx(11 / 24)
    (fault,) = run.faults
    assert fault.kind == "stuck" and fault.delay_s is not None
    assert fault.delay_s <= 3600.0
