"""Detectors behind one protocol, adaptive thresholds, rules, the vote, the compact ONNX export."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agents.detectors.hst import HalfSpaceTreesDetector
from agents.detectors.onnx_scorer import OnnxDetector
from agents.detectors.protocol import Detector, RowDetector, ZScoreDetector
from agents.detectors.rules import DEFAULT_RULES, RuleBook, RuleSpec, load_rules, resolve
from agents.detectors.thresholds import QuantileThresholds
from agents.detectors.voting import DetectorResult, vote
from agents.errors import ModelError
from agents.features.reading import MODEL_FEATURES
from modelops.export.autoencoder import (
    export_autoencoder,
    reference_scores,
    train_autoencoder,
)
from modelops.export.iforest import export_iforest, export_stock, train_iforest
from streams.errors import ConfigError

D = len(MODEL_FEATURES)


@pytest.fixture(scope="module")
def forest() -> Any:
    rows = np.random.default_rng(0).normal(size=(3000, D))
    return train_iforest(rows, n_estimators=50, seed=1)


def test_every_detector_speaks_the_protocol(forest: Any) -> None:
    x = dict(zip(MODEL_FEATURES, [8.0, 0.1, 0.0, 9.0, 0.2, 0.0], strict=True))
    onnx_det = OnnxDetector(export_iforest(forest))
    for det in (ZScoreDetector(), onnx_det):
        assert isinstance(det, RowDetector)
        row = np.array([[x[n] for n in MODEL_FEATURES]])
        assert det.score_one(x) == pytest.approx(float(det.score_rows(row)[0]))
        det.learn_one(x)
    hst = HalfSpaceTreesDetector(window_size=20)
    assert isinstance(hst, Detector)
    assert 0.0 <= hst.score_one({"a": 0.5}) <= 1.0


def test_zscore_scores_grow_with_deviation() -> None:
    rows = np.zeros((3, D))
    rows[1, 0], rows[2, 0] = 3.0, 30.0
    s = ZScoreDetector().score_rows(rows)
    assert s[0] == 0.0 < s[1] < s[2] < 1.0


def test_compact_iforest_export_equals_sklearn_and_the_stock_graph_is_large(
        forest: Any) -> None:
    rng = np.random.default_rng(2)
    trees = forest.estimators_
    # Inputs exactly at split thresholds (as float32) probe the <= boundary of every tree.
    at_thresholds = np.zeros((400, D), dtype=np.float32)
    for i in range(400):
        tree = trees[i % len(trees)].tree_
        node = int(rng.integers(0, tree.node_count))
        at_thresholds[i] = rng.normal(size=D)
        if tree.children_left[node] != -1:
            at_thresholds[i, tree.feature[node]] = np.float32(tree.threshold[node])
    x = np.vstack([rng.normal(size=(2000, D)) * 3, at_thresholds]).astype(np.float32)
    expected = -np.asarray(forest.score_samples(x), dtype=np.float64)
    fast = OnnxDetector(export_iforest(forest))
    np.testing.assert_allclose(fast.score_rows(x.astype(np.float64)), expected, atol=1e-5,
                               rtol=0)
    import onnx

    stock = onnx.load_from_string(export_stock(forest))
    compact = onnx.load_from_string(export_iforest(forest))
    assert len(compact.graph.node) == 3 < 500 < len(stock.graph.node)


def test_bound_scoring_equals_session_run_whatever_the_row_counts(forest: Any) -> None:
    det = OnnxDetector(export_iforest(forest))
    rng = np.random.default_rng(5)
    batches = [rng.normal(size=(n, D)).astype(np.float32) for n in (1, 50, 3, 1, 50, 7)]
    results = [det.score_rows(x) for x in batches]  # outputs land in reused buffers
    for x, got in zip(batches, results, strict=True):
        direct = det.session.run(None, {det.session.get_inputs()[0].name: x})[0][:, 0]
        assert np.array_equal(got, direct.astype(np.float64))
    for n in range(40):  # more row counts than bindings kept: still right
        x = rng.normal(size=(n + 1, D)).astype(np.float32)
        direct = det.session.run(None, {det.session.get_inputs()[0].name: x})[0][:, 0]
        assert np.array_equal(det.score_rows(x), direct.astype(np.float64))


def test_a_broken_model_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot load"):
        OnnxDetector(b"not an onnx model")


def test_hst_snapshot_scores_identically() -> None:
    rng = np.random.default_rng(4)
    xs = [{f"t{i}": float(v) for i, v in enumerate(rng.random(5))} for _ in range(300)]
    det = HalfSpaceTreesDetector(window_size=50)
    for x in xs[:200]:
        det.learn_one(x)
    meta, arrays = det.to_parts()
    twin = HalfSpaceTreesDetector.from_parts(meta, arrays)
    for x in xs[200:]:
        assert det.score_one(x) == twin.score_one(x)
        det.learn_one(x)
        twin.learn_one(x)


def test_thresholds_track_a_high_quantile_and_rise_slowly() -> None:
    thr = QuantileThresholds(quantile=0.99, margin=0.0, floor=0.0, warmup=100,
                             half_life_s=math.inf)
    idx = np.array([0, 1])
    rng = np.random.default_rng(5)
    for _ in range(5000):
        s = rng.random(2) * np.array([0.5, 1.0])
        thr.observe(idx, s)
    got = thr.thresholds(idx)
    assert got[0] == pytest.approx(0.495, abs=0.01)
    assert got[1] == pytest.approx(0.99, abs=0.01)
    assert thr.warm(idx).all() and not thr.warm(np.array([5])).any()
    before = float(thr.thresholds(idx)[0])
    for _ in range(100):  # a sustained rise above the quantile
        thr.observe(idx[:1], np.array([0.9]))
    assert float(thr.thresholds(idx)[0]) <= before + 100 * thr.max_rise + 1e-9


def test_rules_resolve_by_pattern_and_flag_violations(tmp_path: Path) -> None:
    limits = resolve("dig1.temp", DEFAULT_RULES)
    assert (limits.low, limits.high, limits.max_bad) == (0.0, 80.0, 0.5)
    assert np.isnan(limits.stuck_after)  # learnt per tag by the baseline detector
    assert np.isnan(resolve("chp.p_el", DEFAULT_RULES).high)
    book = RuleBook((RuleSpec(pattern="a*", low=0, high=10, max_rate_per_s=1.0,
                              stuck_after_s=60, max_bad_share=0.5),))
    book.extend(["a1", "a2", "a3", "a4", "b"])
    idx = np.arange(5)
    hits = book.check(
        idx, value=np.array([11.0, 5.0, 5.0, 5.0, 99.0]), valid=np.ones(5, dtype=np.bool_),
        slope_per_s=np.array([0.0, 2.0, 0.0, 0.0, 9.0]),
        since_change_s=np.array([0.0, 0.0, 61.0, 0.0, 999.0]),
        has_varied=np.ones(5, dtype=np.bool_), bad_share=np.array([0, 0, 0, 0.6, 0.9]))
    assert [list(np.flatnonzero(hits[k])) for k in ("range", "rate", "stuck", "quality")] == \
        [[0], [1], [2], [3]]
    path = tmp_path / "rules.json"
    path.write_text('[{"pattern": "gas.*", "high": 5, "kind": "integrator"}]')
    assert resolve("gas.o2", load_rules(path)).high == 5.0
    assert resolve("gas.o2", load_rules(path)).kind == "integrator"
    path.write_text('[{"pattern": "gas.*", "hihg": 5}]')
    with pytest.raises(ConfigError, match=r"rules\.json"):
        load_rules(path)


def test_vote_rules_alone_statistics_together_or_one_far_past_its_threshold() -> None:
    n = 4
    rule = DetectorResult.rule("rule.range", np.array([True, False, False, False]))

    def stat(name: str, scores: list[float]) -> DetectorResult:
        s = np.array(scores)
        return DetectorResult(name=name, score=s, threshold=np.full(n, 0.6), voted=s > 0.6)

    verdict = vote([rule, stat("zscore", [0, 0.7, 0.7, 0.95]),
                    stat("iforest", [0, 0.7, 0.1, 0.1])], min_votes=2)
    assert list(verdict.anomalous) == [True, True, False, True]
    assert verdict.strength[3] == pytest.approx(0.95 / 0.6)
    # With one statistical detector available, its vote is enough.
    alone = vote([stat("zscore", [0, 0.7, 0.7, 0.7])], min_votes=2)
    assert list(alone.anomalous) == [False, True, True, True]


def test_autoencoder_export_equals_numpy_and_flags_broken_correlations() -> None:
    rng = np.random.default_rng(6)
    rows = rng.normal(size=(3000, D))
    rows[:, 1] = 0.8 * rows[:, 0] + 0.1 * rows[:, 1]
    ae = train_autoencoder(rows)
    det = OnnxDetector(export_autoencoder(ae), name="autoencoder")
    probe = np.vstack([rows[:300], rng.normal(size=(300, D)) * 3])
    np.testing.assert_allclose(det.score_rows(probe), reference_scores(ae, probe), atol=1e-5)
    normal = det.score_rows(rows[:1000])
    assert np.percentile(normal, 99) <= 0.7
    broken = np.zeros((1, D))
    broken[0, 0], broken[0, 1] = 3.0, -3.0  # each plausible alone, not together
    assert det.score_rows(broken)[0] > 0.9


def test_a_rule_field_given_as_null_turns_the_check_off(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text('[{"pattern": "flare.on", "max_bad_share": null, "statistical": false},'
                    ' {"pattern": "flare.*", "high": 5}, {"pattern": "*", "low": -1}]')
    rules = load_rules(path)
    on = resolve("flare.on", rules)
    assert np.isnan(on.max_bad)  # the default's 0.5 does not apply
    assert on.high == 5.0 and not on.statistical
    assert on.low == -1.0  # fields the first rules leave out come from later ones
    flow = resolve("flare.flow", rules)
    assert flow.max_bad == 0.5 and flow.statistical
    book = RuleBook(rules)
    book.extend(["flare.on", "flare.flow"])
    assert book.statistical.tolist() == [False, True]


def test_threshold_rates_are_per_second_of_stream_time() -> None:
    per_second = QuantileThresholds(half_life_s=600.0, max_rise_per_s=0.001)
    per_minute = QuantileThresholds(half_life_s=600.0, max_rise_per_s=0.001)
    per_minute.set_period(60.0)
    assert per_minute.max_rise == pytest.approx(60 * per_second.max_rise)
    # ten minutes halve the weight of what came before, whatever the sampling
    assert per_second.decay ** 600 == pytest.approx(0.5)
    assert per_minute.decay ** 10 == pytest.approx(0.5)
