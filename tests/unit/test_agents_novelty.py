"""The novelty detector: its compiled step against a plain reference, its rules, its state."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from agents.detectors.novelty import NoveltyBank
from agents.detectors.novelty_kernels import CELLS, GRADE, N_CELLS, NEAR, SPAN, TOLERANCE
from agents.detectors.rules import RuleSpec, resolve
from agents.pipeline import ScanProcessor
from agents.stream_state import DetectionConfig
from streams.events import Quality, Reading, ScanRecorded


def reference(values: list[float], warmup: int, rest: int) -> list[float]:
    """The detector written out plainly, one value at a time."""
    scores = [0.0] * len(values)
    low, high = min(values[:warmup]), max(values[:warmup])
    r0 = high - low if high > low else max(abs(high), 1.0) * 1e-3
    base, width = low - SPAN * r0, r0 / CELLS
    seen: set[int] = set()
    lo = hi = values[0]
    last = -(10 ** 12)
    for t, x in enumerate(values):
        c = min(max(math.floor((x - base) / width), 0), N_CELLS - 1)
        dist, out = NEAR * GRADE, False
        if t > 0:
            r = hi - lo
            out = r > 0 and (x > hi + TOLERANCE * r or x < lo - TOLERANCE * r)
            dist = next((j for j in range(NEAR * GRADE) if c - j in seen or c + j in seen),
                        NEAR * GRADE)
        novel = t > 0 and dist >= NEAR
        if t >= warmup:
            if out:
                scores[t] = 1.0
            elif novel and t - last > rest:
                scores[t] = 0.5 + 0.49 * (dist - NEAR) / (NEAR * GRADE - NEAR)
        if out or novel:
            last = t
        seen.add(c)
        lo, hi = min(lo, x), max(hi, x)
    return scores


def bank(warmup: int, rest: int, columns: int = 1) -> NoveltyBank:
    b = NoveltyBank()
    b.extend(np.full(columns, warmup, dtype=np.int64), np.full(columns, rest, dtype=np.int64))
    return b


def series(n: int = 1500, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    values = 20 + np.round(rng.normal(0, 1, n), 1)
    values[900:960] += 6.0  # a new level for a minute
    values[1200] = 60.0  # far beyond anything seen
    return [float(v) for v in values]


@pytest.mark.parametrize(("warmup", "rest"), [(300, 100), (50, 0), (1, 500)])
def test_the_compiled_step_equals_the_reference(warmup: int, rest: int) -> None:
    values = series()
    b = bank(warmup, rest)
    got = [float(b.vote(np.zeros(1, dtype=np.int64), np.array([v]),
                        np.ones(1, dtype=np.bool_)).score[0]) for v in values]
    assert got == reference(values, warmup, rest)
    assert got[1200] == 1.0 and max(got[900:960]) >= 0.5 and not any(got[:warmup])


def test_a_new_regime_is_announced_once_then_rests() -> None:
    rng = np.random.default_rng(3)
    # two operating points, 10 and 30; from 900 the tag sits at 20, inside the range seen
    values = [float(v) for v in np.where(np.arange(1500) % 2 == 0, 10.0, 30.0)
              + np.round(rng.normal(0, 0.3, 1500), 2)]
    values[900:960] = [20.0 + float(d) for d in np.round(rng.normal(0, 0.3, 60), 2)]
    scores = reference(values, 300, 100)
    flagged = [t for t, s in enumerate(scores) if s >= 0.5]
    assert flagged and flagged[0] == 900 and 0.5 <= scores[900] < 1.0
    assert [t for t in flagged if 900 < t < 1000] == []  # resting: not every new value


def test_only_tags_with_novelty_on_get_a_slot_and_bad_readings_are_skipped() -> None:
    limits = [resolve(t, (RuleSpec(pattern="gas.*", novelty=True, novelty_rest_scans=10),
                          RuleSpec(pattern="*", novelty_warmup_scans=99)))
              for t in ("gas.ch4", "dig1.temp")]
    assert (limits[0].novelty_warmup, limits[0].novelty_rest) == (99, 10)
    assert limits[1].novelty_warmup == 0  # warm-up given, but novelty not turned on
    assert resolve("x", (RuleSpec(pattern="*", novelty=True),)).novelty_warmup == 750
    b = NoveltyBank()
    b.extend(np.array([0, 5], dtype=np.int64), np.array([0, 2], dtype=np.int64))
    assert b.slot_of.tolist() == [-1, 0]
    for v in (1.0, 2.0, 3.0, 4.0, 5.0):
        b.vote(np.array([0, 1]), np.array([v, v]), np.array([True, True]))
    result = b.vote(np.array([0, 1]), np.array([99.0, 99.0]), np.array([True, False]))
    assert result.score.tolist() == [0.0, 0.0] and b.count.tolist() == [5]
    result = b.vote(np.array([0, 1]), np.array([99.0, 99.0]), np.array([True, True]))
    assert result.score.tolist() == [0.0, 1.0] and result.voted.tolist() == [False, True]


def test_the_state_survives_a_snapshot_in_and_after_warm_up() -> None:
    values = series()
    start = datetime(2026, 3, 1, tzinfo=UTC)
    boot = uuid.uuid4()
    scans = [ScanRecorded(plant_id="p", edge_boot_id=boot, seq=i, device="d", poll_group="g",
                          source_ts=start + timedelta(seconds=i),
                          readings=(Reading(tag="gas.ch4", value=v, quality=Quality.GOOD),))
             for i, v in enumerate(values)]
    rules = (RuleSpec(pattern="*", statistical=False, stuck_after_s=None, max_bad_share=None,
                      novelty=True, novelty_warmup_scans=300, novelty_rest_scans=100),)

    def proc() -> ScanProcessor:
        return ScanProcessor(DetectionConfig(), rules, late_after_s=1e12,
                             clock=lambda: start + timedelta(days=1))

    one = proc()
    whole = [a for s in scans for a in one.process(s).anomalies]
    assert [a.event_time for a in whole][-1] >= scans[1200].source_ts
    top = next(a for a in whole if a.event_time == scans[1200].source_ts).top_features[0]
    assert top.name == "gas.ch4:novelty.score" and top.value == 1.0
    for cut in (150, 1000):  # in warm-up, after it
        first = proc()
        for s in scans[:cut]:
            first.process(s)
        second = proc()
        second.restore("p|d|g", first.snapshot("p|d|g"))
        after = [a for s in scans[cut:] for a in second.process(s).anomalies]
        assert [a.anomaly_id for a in after] == \
            [a.anomaly_id for a in whole if a.event_time >= scans[cut].source_ts]


def test_rules_changed_since_the_snapshot_apply_after_a_restore() -> None:
    first = bank(3, 0, columns=2)  # both tags on
    first.extend(np.array([3, 3]), np.array([0, 0]))
    for v in (1.0, 2.0, 3.0, 4.0):
        first.vote(np.array([0, 1]), np.array([v, v]), np.array([True, True]))
    meta, arrays = first.to_parts()
    restored = NoveltyBank.from_parts(meta, arrays)
    # now: the first tag off, the second on with a rest of 5
    restored.extend(np.array([0, 3]), np.array([0, 5]))
    assert restored.slot_of.tolist() == [-1, 1] and restored.rest.tolist() == [0, 5]
    result = restored.vote(np.array([0, 1]), np.array([99.0, 99.0]), np.array([True, True]))
    assert result.score.tolist() == [0.0, 1.0]
    # and a tag turned on that had none gets a fresh slot, warming up from now
    off = NoveltyBank()
    off.extend(np.array([0]), np.array([0]))
    meta, arrays = off.to_parts()
    again = NoveltyBank.from_parts(meta, arrays)
    again.extend(np.array([2]), np.array([0]))
    assert again.slot_of.tolist() == [0] and again.count.tolist() == [0]
