"""The pure feature module: rolling windows, per-reading features, plant features, snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from agents.features.plant import CH4_KWH_PER_NM3, PlantFeatures
from agents.features.reading import MODEL_FEATURES, compute, model_rows, published
from agents.features.windows import TagWindows, windows_from_parts, windows_to_parts
from agents.state_codec import pack, unpack
from streams.errors import BiogasError
from streams.events import Analyte, LabResultRecorded

T0 = 1_767_225_600.0  # an hour boundary


def feed(windows: TagWindows, ts: np.ndarray, values: np.ndarray, tags: list[str]) -> None:
    idx = windows.slots(tags)
    for t, row in zip(ts, values, strict=True):
        windows.update(float(t), idx, row, np.ones(len(tags), dtype=np.bool_))


def test_window_statistics_equal_numpy_over_the_covered_buckets() -> None:
    rng = np.random.default_rng(3)
    ts = T0 + np.cumsum(rng.uniform(0.5, 1.5, size=2500))
    values = rng.normal(100.0, 5.0, size=(2500, 2)) + np.linspace(0, 20, 2500)[:, None]
    w = TagWindows()
    feed(w, ts, values, ["a", "b"])
    agg = w.aggregates(np.array([0, 1]), extremes=True)
    for k, seconds in enumerate(w.windows_s):
        width = seconds / w.n_buckets
        bucket = np.floor((ts - T0) / width)
        inside = bucket > bucket[-1] - w.n_buckets
        x, y = ts[inside] - T0, values[inside]
        assert agg.count[k, 0] == inside.sum()
        np.testing.assert_allclose(agg.mean[k], y.mean(axis=0), rtol=1e-9)
        np.testing.assert_allclose(agg.std[k], y.std(axis=0), rtol=1e-6)
        np.testing.assert_allclose(agg.minimum[k], y.min(axis=0))
        np.testing.assert_allclose(agg.maximum[k], y.max(axis=0))
        slope = np.polyfit(x, y[:, 0], 1)[0]
        assert agg.slope_per_s[k, 0] == pytest.approx(slope, rel=1e-6, abs=1e-9)


def test_large_counters_keep_their_precision() -> None:
    ts = T0 + np.arange(600.0)
    values = (1.0e9 + np.arange(600.0) * 0.5)[:, None]
    w = TagWindows()
    feed(w, ts, values, ["chp.energy_el"])
    agg = w.aggregates(np.array([0]))
    assert agg.slope_per_s[1, 0] == pytest.approx(0.5, rel=1e-9)
    assert agg.std[0, 0] == pytest.approx(np.std(values[-60:]), rel=1e-6)


def test_since_change_quality_share_and_late_samples() -> None:
    w = TagWindows()
    idx = w.slots(["x", "y"])
    good = np.array([True, True])
    for i in range(100):
        w.update(T0 + i, idx, np.array([float(min(i, 40)), float(i)]), good)
    assert list(w.since_change_s(T0 + 99, idx)) == [59.0, 0.0]
    assert w.n_changes[0] == 41
    w.update(T0 + 100, idx, np.array([np.nan, 5.0]), np.array([False, True]))
    agg = w.aggregates(idx)
    assert agg.bad_share[0, 0] == pytest.approx(1 / 61, rel=0.2)
    # A late sample adds to the windows but does not become the latest value.
    step = w.update(T0 + 50, idx, np.array([1000.0, 1000.0]), good)
    assert w.last_value[1] == 5.0
    assert step.valid.all()


def test_new_tags_get_new_columns_and_old_tags_keep_theirs() -> None:
    w = TagWindows(capacity=1)
    assert list(w.slots(["a"])) == [0]
    assert list(w.slots(["c", "a", "b"])) == [1, 0, 2]
    assert w.capacity >= 3 and w.tags == ["a", "c", "b"]


def test_snapshot_round_trip_continues_identically() -> None:
    rng = np.random.default_rng(5)
    ts = T0 + np.arange(1500.0)
    values = rng.normal(size=(1500, 3))
    tags = ["a", "b", "c"]
    whole = TagWindows()
    feed(whole, ts, values, tags)
    first = TagWindows()
    feed(first, ts[:700], values[:700], tags)
    meta, arrays = windows_to_parts(first)
    restored = windows_from_parts(*unpack(pack(meta, arrays)))
    feed(restored, ts[700:], values[700:], tags)
    idx = np.arange(3)
    step_a = whole.update(T0 + 1500, idx, values[0], np.ones(3, dtype=np.bool_))
    step_b = restored.update(T0 + 1500, idx, values[0], np.ones(3, dtype=np.bool_))
    np.testing.assert_array_equal(compute(whole, T0 + 1500, step_a).model_x,
                                  compute(restored, T0 + 1500, step_b).model_x)


def test_corrupt_snapshot_is_refused() -> None:
    data = pack({"a": 1}, {"x": np.arange(3.0)})
    with pytest.raises(BiogasError, match="truncated"):
        unpack(data[:-1])
    with pytest.raises(BiogasError, match="magic"):
        unpack(b"nope" + data[4:])


def test_reading_features_flag_a_spike_and_training_rows_match_online_rows() -> None:
    rng = np.random.default_rng(7)
    samples = [(T0 + i, {"p": 3.0 + 0.1 * rng.normal()}) for i in range(900)]
    samples.append((T0 + 900, {"p": 6.0}))
    rows = model_rows(samples)
    assert rows.shape == (901, len(MODEL_FEATURES))
    z, jump = MODEL_FEATURES.index("z_value"), MODEL_FEATURES.index("jump_norm")
    assert rows[-1, z] > 20 and rows[-1, jump] > 15
    assert np.abs(rows[300:-1, z]).max() < 6
    online = TagWindows()
    idx = online.slots(["p"])
    for ts, values in samples:
        step = online.update(ts, idx, np.array([values["p"]]), np.ones(1, dtype=np.bool_))
        last = compute(online, ts, step)
    np.testing.assert_array_equal(last.model_x[0], rows[-1])
    names = published(online, last, 0)
    assert {"mean_1m", "std_10m", "slope_per_h_1h", "since_change_s", "x_drift_t"} <= set(names)


def test_plant_features_from_domain_formulas() -> None:
    plant = PlantFeatures()
    tags = ["gas.ch4", "gas.co2", "gas.flow_chp", "gas.flow_total", "gas.flow_flare",
            "chp.p_el", "feed.solid_total", "gas.holder_fill", "dig1.temp"]
    good = np.ones(len(tags), dtype=np.bool_)
    for i in range(0, 1300, 10):
        values = np.array([52.0, 46.0, 240.0, 250.0, 0.0, 500.0, i / 2.88, 50.0,
                           38.0 + 0.01 * (i % 20)])
        plant.add_scan(T0 + i, tags, values, good)
    f = plant.features()
    assert f["ch4_co2_ratio"] == pytest.approx(52 / 46)
    assert f["chp_eta_el"] == pytest.approx(500 / (240 * 0.52 * CH4_KWH_PER_NM3))
    assert f["gas_per_feed_nm3_per_t"] == pytest.approx(250 * 24 / 30.0, rel=1e-6)
    assert f["gas_balance_residual_nm3_h"] == pytest.approx(10.0)
    assert f["dig_temp_std"] > 0
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for day, value in enumerate([0.30, 0.34, 0.38]):
        plant.add_lab(LabResultRecorded(
            plant_id="p", sample_id=f"s{day}", analyte=Analyte.FOS_TAC, value=value,
            unit="ratio", sampled_at=start + timedelta(days=day), recorded_at=start,
            recorded_by="lab"))
    f = plant.features()
    assert f["fos_tac_trend_per_d"] == pytest.approx(0.04)
    assert f["fos_tac_last"] == pytest.approx(0.38)
