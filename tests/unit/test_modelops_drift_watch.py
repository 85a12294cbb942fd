"""The standing drift check without a broker or database: windows, what a pass checks, the
events' ids, the gauges, the settings, the loop's retry after a failed pass, the command."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from cli.models_cmd import models_app
from cli.models_watch_cmd import duration_s
from modelops.drift import drift_measured, references_of
from modelops.drift_metrics import DriftMetrics
from modelops.drift_watch import DriftWatch, Target, seconds_to_next, targets, window_ending
from modelops.errors import RegistryError
from modelops.publish import live_deployments
from modelops.registry import Registry
from modelops.settings import load_settings
from streams.errors import ConfigError
from streams.events import ModelRef
from tests.waiting import eventually_async

END = datetime(2026, 3, 2, tzinfo=UTC)
REF = ModelRef(model_id="iforest", version="2", sha256="0" * 64)


def test_windows_end_on_multiples_of_the_interval() -> None:
    now = END + timedelta(minutes=59, seconds=59)
    w = window_ending(now, 3600, 86_400)
    assert (w.start, w.end) == (END - timedelta(days=1), END)
    assert window_ending(END, 3600, 600).end == END
    assert window_ending(END + timedelta(seconds=1), 900, 600).end == END
    assert seconds_to_next(now, 3600) == pytest.approx(1.0)
    assert seconds_to_next(END, 3600) == pytest.approx(3600.0)


def test_live_deployment_is_the_last_one_per_model_and_plant_scope() -> None:
    history: list[dict[str, Any]] = [
        {"model_id": "iforest", "version": "1", "plant_id": None},
        {"model_id": "iforest", "version": "2", "plant_id": None},
        {"model_id": "iforest", "version": "1", "plant_id": "plant-b"},
        {"model_id": "autoencoder", "version": "4", "plant_id": "plant-c"},
    ]
    assert live_deployments(history) == {(None, "iforest"): "2", ("plant-b", "iforest"): "1",
                                         ("plant-c", "autoencoder"): "4"}
    assert live_deployments([]) == {}


def test_a_plant_is_checked_against_its_own_deployment_or_the_one_for_every_plant() -> None:
    live = {(None, "iforest"): "2", ("plant-b", "iforest"): "1",
            ("plant-z", "autoencoder"): "4"}
    found = targets(live, ["plant-a", "plant-b"])
    assert found == [Target("plant-a", "iforest", "2"), Target("plant-b", "iforest", "1"),
                     Target("plant-z", "autoencoder", "4")]
    assert targets({("plant-z", "iforest"): "3"}, []) == [Target("plant-z", "iforest", "3")]
    assert targets({(None, "iforest"): "2"}, []) == []


def test_a_measurement_has_a_deterministic_id_and_says_whether_it_drifts() -> None:
    values = {"z_value": 0.02, "drift_t": 0.4}
    start = END - timedelta(days=1)
    one = drift_measured("plant-a", values, 0.25, REF, window_start=start, window_end=END,
                         rows=100)
    again = drift_measured("plant-a", values, 0.25, REF, window_start=start, window_end=END,
                           rows=100)
    assert one.event_id == again.event_id and one.drifting
    later = drift_measured("plant-a", {"z_value": 0.02}, 0.25, REF, window_start=start,
                           window_end=END + timedelta(hours=1), rows=100)
    assert later.event_id != one.event_id and not later.drifting
    other = drift_measured("plant-b", values, 0.25, REF, window_start=start, window_end=END,
                           rows=100)
    assert other.event_id != one.event_id


def test_a_version_without_a_training_distribution_is_named() -> None:
    with pytest.raises(RegistryError, match="iforest version 3 records no training"):
        references_of({"model_id": "iforest", "version": "3"})
    with pytest.raises(RegistryError, match="records no training"):
        references_of({"reference": {"unknown_input": {"edges": [], "shares": [1.0]}}})
    refs = references_of({"reference": {"z_value": {"edges": [0.0], "shares": [0.5, 0.5]}}})
    assert refs["z_value"].shares == (0.5, 0.5)


def _samples(metrics: DriftMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_gauges_follow_the_last_measurement_of_each_plant_and_model() -> None:
    metrics = DriftMetrics()
    start = END - timedelta(days=1)
    metrics.record(drift_measured("plant-a", {"z_value": 0.5, "drift_t": 0.1}, 0.25, REF,
                                  window_start=start, window_end=END, rows=10))
    metrics.record(drift_measured("plant-b", {"z_value": 0.1}, 0.25, REF,
                                  window_start=start, window_end=END, rows=7))
    metrics.finished(1234.0, [("plant-a", "iforest"), ("plant-b", "iforest")])
    got = _samples(metrics)
    psi = (("feature", "z_value"), ("model", "iforest"), ("plant", "plant-a"), ("version", "2"))
    assert got[("biogas_model_feature_psi", psi)] == 0.5
    assert got[("biogas_model_drifting", (("model", "iforest"), ("plant", "plant-a")))] == 1
    assert got[("biogas_model_drifting", (("model", "iforest"), ("plant", "plant-b")))] == 0
    assert got[("biogas_model_drift_rows", (("model", "iforest"), ("plant", "plant-b")))] == 7
    assert got[("biogas_model_drift_last_run_timestamp_seconds", ())] == 1234.0
    assert got[("biogas_model_drift_threshold", ())] == 0.25

    v3 = REF.model_copy(update={"version": "3"})
    metrics.record(drift_measured("plant-a", {"z_value": 0.05}, 0.25, v3,
                                  window_start=start, window_end=END, rows=10))
    metrics.finished(1300.0, [("plant-a", "iforest")])  # plant-b not measured any more
    got = _samples(metrics)
    psi_series = {labels for name, labels in got if name == "biogas_model_feature_psi"}
    assert psi_series == {(("feature", "z_value"), ("model", "iforest"), ("plant", "plant-a"),
                           ("version", "3"))}
    drifting = {labels for name, labels in got if name == "biogas_model_drifting"}
    assert drifting == {(("model", "iforest"), ("plant", "plant-a"))}
    assert got[("biogas_model_drift_last_run_timestamp_seconds", ())] == 1300.0


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("15m", 900), ("1h", 3600),
                                               ("2d", 172_800), ("3600", 3600), ("0.5h", 1800)])
def test_durations(text: str, seconds: float) -> None:
    assert duration_s(text, "--interval") == seconds


@pytest.mark.parametrize("text", ["0", "-1h", "1w", "hourly", ""])
def test_bad_durations_name_the_option_and_the_fix(text: str) -> None:
    with pytest.raises(ConfigError, match=r"--window .*: use a duration above 0 such as 90s"):
        duration_s(text, "--window")


@pytest.mark.parametrize(("variable", "value", "expected"), [
    ("BIOGAS_MODELS_DRIFT_INTERVAL_S", "0", "greater than 0; Seconds between drift-watch"),
    ("BIOGAS_MODELS_DRIFT_WINDOW_S", "a day", "valid number"),
    ("BIOGAS_MODELS_DRIFT_METRICS_PORT", "99999", "less than or equal to 65535"),
    ("BIOGAS_MODELS_DRIFT_THRESHOLD", "-1", "greater than 0"),
])
def test_bad_settings_name_the_variable_and_the_fix(
        monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as exc:
        load_settings()
    assert str(exc.value).startswith(f"invalid setting: {variable}={value!r}: ")
    assert expected in str(exc.value)


def test_defaults_check_the_last_day_every_hour() -> None:
    settings = load_settings()
    assert (settings.drift_interval_s, settings.drift_window_s) == (3600, 86_400)
    assert settings.drift_metrics_port == 9109


class FlakyStorage:
    """A registry store whose first ``failures`` reads fail like an unreachable bucket."""

    location = "flaky://registry"

    def __init__(self, failures: int) -> None:
        self.failures = failures

    def read(self, key: str) -> bytes | None:
        if self.failures > 0:
            self.failures -= 1
            raise RegistryError(f"cannot read {key}: connection reset")
        return None

    def write(self, key: str, data: bytes) -> None:
        raise AssertionError("drift-watch never writes to the registry")

    def children(self, prefix: str) -> list[str]:
        return []

    def uri(self, key: str) -> str:
        return f"{self.location}/{key}"


async def test_a_failed_pass_is_counted_and_retried_the_next_interval() -> None:
    storage = FlakyStorage(failures=2)
    metrics = DriftMetrics()
    watch = DriftWatch(load_settings(drift_interval_s=0.05, drift_window_s=60),
                       Registry(storage), metrics)
    stop = asyncio.Event()
    task = asyncio.create_task(watch.run(stop))
    try:
        async def recovered() -> bool:
            return bool(_samples(metrics).get(
                ("biogas_model_drift_last_run_timestamp_seconds", ()), 0) > 0)

        await eventually_async(recovered, timeout=10, what="a pass after two failed ones")
        assert _samples(metrics)[("biogas_model_drift_failed_passes_total", ())] == 2
        assert storage.failures == 0
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


def test_once_with_nothing_deployed_exits_0(tmp_path: Path) -> None:
    result = CliRunner().invoke(models_app, ["drift-watch", "--once"],
                                env={"BIOGAS_MODELS_REGISTRY_DIR": str(tmp_path),
                                     "BIOGAS_LOG_FORMAT": "json"})
    assert result.exit_code == 0, result.output
    assert "nothing checked" in result.stdout


def test_a_bad_setting_stops_the_command_with_exit_2() -> None:
    result = CliRunner().invoke(models_app, ["drift-watch", "--once"],
                                env={"BIOGAS_MODELS_DRIFT_WINDOW_S": "-3"})
    assert result.exit_code == 2
    assert "BIOGAS_MODELS_DRIFT_WINDOW_S='-3'" in result.output
    result = CliRunner().invoke(models_app, ["drift-watch", "--once", "--interval", "soon"])
    assert result.exit_code == 2
    assert "--interval 'soon'" in result.output


def test_psi_is_judged_only_on_enough_rows_for_its_limit() -> None:
    from modelops.drift import min_rows
    assert min_rows(0.25) == 348  # 4 x 21.7 / 0.25
    assert min_rows(0.1) > min_rows(0.25)
