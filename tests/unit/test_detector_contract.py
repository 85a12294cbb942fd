"""Every detector of a scan stream held to one contract (after river's ``check_estimator``):
results of the scan's shape with finite, non-negative scores; nothing flagged before it
learnt anything; the same results from two fresh streams fed the same scans; a snapshot
round trip in the middle that changes no later result; a snapshot that does not grow with
time; and a gross fault of its kind flagged once it has learnt."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pytest

from agents.detectors.baseline import BaselineConfig
from agents.detectors.contract import ScanContext, ScanDetector
from agents.detectors.deployed import DeployedModel
from agents.detectors.envelope import EnvelopeDetector
from agents.detectors.rules import DEFAULT_RULES, RuleSpec
from agents.detectors.voting import DetectorResult
from agents.features.reading import compute
from agents.stream_state import DetectionConfig, StreamState
from agents.tag_catalogue import EMPTY, PlantCatalogue
from modelops.export.envelope import export_envelope, fit_envelope
from streams.events import TagsConfigured, TagSpec

STEP_S = 60.0
TAGS = ["a", "b", "supply", "return"]
LEARN = 800  # scans before the fault: past every warm-up and commissioning below
CONFIG = DetectionConfig(warmup=50, statistical=True, hst_window=100,
                         baseline=BaselineConfig(commission_s=10 * 3600.0, min_samples=50))
RULES = (RuleSpec(pattern="a", high=60.0), RuleSpec(pattern="b", novelty=True,
                                                   novelty_warmup_scans=100),
         *DEFAULT_RULES)
CATALOGUE = PlantCatalogue().merged(TagsConfigured(
    plant_id="p", edge_boot_id=uuid.UUID(int=1), seq=0,
    configured_at=datetime(2026, 3, 1, tzinfo=UTC), config_sha256="0" * 64,
    tags=(TagSpec(tag="supply", device="plc", poll_group="fast", poll_interval_s=STEP_S,
                  role="heating.supply_temp"),
          TagSpec(tag="return", device="plc", poll_group="fast", poll_interval_s=STEP_S,
                  role="heating.return_temp"))))


def normal(k: int, rng: np.random.Generator) -> dict[str, float]:
    """Scan ``k`` of a healthy stream: two noisy levels, a heating circuit 20 K apart."""
    return {"a": 40.0 + rng.normal(0, 0.5), "b": float(round(10.0 + rng.uniform(-1.0, 1.0), 1)),
            "supply": 70.0 + rng.normal(0, 0.2), "return": 50.0 + rng.normal(0, 0.2)}


def _envelope() -> EnvelopeDetector:
    rng = np.random.default_rng(99)
    rows = np.array([[normal(k, rng)[t] for t in TAGS] for k in range(400)])
    return EnvelopeDetector(export_envelope(fit_envelope(rows, TAGS)), name="envelope")


@dataclass(frozen=True)
class Case:
    """One detector: how to find it in a stream, and a gross fault of its kind."""

    name: str
    fault: Callable[[dict[str, float]], dict[str, float]]
    models: Callable[[], list[DeployedModel]] = field(default=lambda: [])


CASES = [
    Case("zscore", lambda v: {**v, "a": 90.0}),
    Case("hst", lambda v: {t: x + 30.0 for t, x in v.items()}),
    Case("envelope", lambda v: {**v, "a": 90.0}, lambda: [_envelope()]),
    Case("baseline", lambda v: {**v, "a": 90.0}),
    Case("process", lambda v: {**v, "supply": 45.0, "return": 45.0}),
    Case("novelty", lambda v: {**v, "b": 55.0}),
    Case("rules", lambda v: {**v, "a": 70.0}),
]


class Stream:
    """A stream state fed scans the way the pipeline feeds it, every detector in its loop
    (the process checks read what the baseline learns); the results are the case's."""

    def __init__(self, case: Case, models: list[DeployedModel]) -> None:
        self.case, self.models = case, models
        self.state = StreamState(CONFIG, RULES)


    def scan(self, k: int, values: dict[str, float]) -> tuple[int, tuple[DetectorResult, ...]]:
        ts = 1.77e9 + k * STEP_S
        tags = list(values)
        vals = np.array([values[t] for t in tags])
        good = np.ones(len(tags), dtype=np.bool_)
        tags, vals, good = self.state.derivation(tags, CATALOGUE).extend(tags, vals, good)
        windows = self.state.windows
        step = windows.update(ts, windows.slots(tags), vals, good)
        ctx: ScanContext = self.state.context(ts, compute(windows, ts, step))
        mine: tuple[DetectorResult, ...] = ()
        for detector in self.state.detectors(self.models, CATALOGUE):
            found = tuple(detector.vote(ctx))
            if detector.name == self.case.name:
                mine = found
        return len(tags), mine


def run(stream: Stream, start: int, stop: int, fault_from: int | None = None,
        seed: int = 7) -> list[tuple[int, tuple[DetectorResult, ...]]]:
    rng = np.random.default_rng(seed)
    out = []
    for k in range(stop):
        values = normal(k, rng)
        if k < start:
            continue
        if fault_from is not None and k >= fault_from:
            values = stream.case.fault(values)
        out.append(stream.scan(k, values))
    return out


def fresh(case: Case) -> Stream:
    return Stream(case, case.models())


def _same(a: list[tuple[int, tuple[DetectorResult, ...]]],
          b: list[tuple[int, tuple[DetectorResult, ...]]]) -> None:
    assert len(a) == len(b)
    for (na, ra), (nb, rb) in zip(a, b, strict=True):
        assert na == nb and [r.name for r in ra] == [r.name for r in rb]
        for x, y in zip(ra, rb, strict=True):
            np.testing.assert_array_equal(x.score, y.score)
            np.testing.assert_array_equal(x.threshold, y.threshold)
            np.testing.assert_array_equal(x.voted, y.voted)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_results_have_the_scans_shape_and_nothing_is_flagged_before_learning(
        case: Case) -> None:
    stream = fresh(case)
    outputs = run(stream, 0, LEARN)
    for k, (n, results) in enumerate(outputs):
        for r in results:
            assert r.score.shape == r.threshold.shape == r.voted.shape == (n,)
            assert r.voted.dtype == np.bool_
            assert np.isfinite(r.score).all() and (r.score >= 0).all(), (k, r.name)
            assert np.isfinite(r.threshold).all(), (k, r.name)
        if k < 50:  # before any warm-up or commissioning ended: nothing to judge by
            assert not any(r.voted.any() for r in results), (k, case.name)
    assert any(results for _, results in outputs), "the detector never said anything"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_same_scans_give_the_same_results_and_a_snapshot_changes_nothing(
        case: Case) -> None:
    whole = fresh(case)
    expected = run(whole, 0, LEARN + 40, fault_from=LEARN)
    # a snapshot shortly before the fault: a restored stream that lost anything it learnt
    # would judge the fault differently (still warming up, or commissioning again)
    cut = LEARN - 20
    first = fresh(case)
    assert [n for n, _ in run(first, 0, cut)]
    restored = Stream(case, first.models)
    restored.state = StreamState.from_bytes(first.state.to_bytes(), CONFIG, RULES)
    rest = run(restored, cut, LEARN + 40, fault_from=LEARN)
    _same(expected[cut:], rest)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_snapshot_does_not_grow_with_time(case: Case) -> None:
    stream = fresh(case)
    rng = np.random.default_rng(3)
    sizes = []
    for k in range(3 * LEARN):
        stream.scan(k, normal(k, rng))
        if k + 1 in (LEARN, 3 * LEARN):
            sizes.append(len(stream.state.to_bytes()))
    assert sizes[1] <= sizes[0] * 1.01, sizes


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_gross_fault_of_its_kind_is_flagged_once_learnt(case: Case) -> None:
    stream = fresh(case)
    clean = run(stream, 0, LEARN)
    assert not any(r.voted.any() for _, results in clean[-50:] for r in results), case.name
    faulty = run(fresh(case), 0, LEARN + 90, fault_from=LEARN)[LEARN:]  # 90 min
    assert any(r.voted.any() for _, results in faulty for r in results), case.name


def test_every_detector_the_stream_can_run_is_held_to_the_contract() -> None:
    """A detector added to the loop must get a case here."""
    state = StreamState(CONFIG, RULES)
    names = {d.name for d in state.detectors([_envelope()], CATALOGUE)}
    assert names == {c.name for c in CASES}
    assert all(isinstance(d, ScanDetector) for d in state.detectors([], EMPTY))
