"""On the real broker and PostgreSQL: a model trained on one plant's readings, deployed to every
plant; one drift-watch pass over readings in the projections measures every plant with
readings, publishes ModelDriftMeasured for each (drifting where the readings trend away from
the training distribution) and the drift AnomalyDetected only there, skips a plant without
readings, and serves the gauges on /metrics. A pass the broker refuses fails, is counted, and
the next one publishes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from modelops.artifacts import build
from modelops.drift_metrics import DriftMetrics, serve_metrics
from modelops.drift_watch import DriftWatch, Target
from modelops.publish import deploy
from modelops.registry import Registry
from modelops.settings import ModelOpsSettings
from modelops.signing import new_key_pair
from modelops.storage import DirectoryStorage
from modelops.training_data import TrainingRange, from_projections
from streams.events import AnomalyDetected, ModelDriftMeasured, Reading, ScanRecorded
from streams.settings import DatabaseSettings, KafkaSettings
from streams.topics import Stream, Topics
from tests.agents_streams import scripted_scans
from tests.integration.agents_harness import Collector
from tests.integration.api_harness import fill
from tests.integration.conftest import StackEndpoints
from tests.waiting import eventually_async

TRAINED = datetime(2026, 3, 1, tzinfo=UTC)
END = datetime(2026, 3, 2, tzinfo=UTC)  # the window checked ends here
SCANS = 900  # one a second: the window is 15 minutes
WINDOW = timedelta(seconds=SCANS)


def trending(scans: list[ScanRecorded], per_s: float) -> list[ScanRecorded]:
    """The scans with every tag rising by ``per_s`` a second: a shifted distribution of the
    model inputs (slopes, short-window means)."""
    return [s.model_copy(update={"readings": tuple(
        Reading(tag=r.tag, value=round(float(r.value) + per_s * k, 4),  # type: ignore[arg-type]
                quality=r.quality) for r in s.readings)}) for k, s in enumerate(scans)]


def registry_with_deployable_model(database: DatabaseSettings, tmp_path: Path) -> Registry:
    fill(database, scripted_scans(SCANS, TRAINED, plant_id="plant-a", seed=1), log="training")
    rows = from_projections(database, TrainingRange("plant-a", TRAINED, TRAINED + WINDOW))
    new_key_pair(tmp_path / "keys", "release")
    registry = Registry(DirectoryStorage(tmp_path / "registry"))
    candidate = build("iforest", rows)
    registry.promote(registry.add("iforest", candidate.onnx, candidate.metadata),
                     tmp_path / "keys" / "release.key")
    return registry


async def test_one_pass_measures_every_plant_and_alerts_on_the_drifting_one(
        stack: StackEndpoints, topics: Topics, database: DatabaseSettings,
        tmp_path: Path) -> None:
    registry = registry_with_deployable_model(database, tmp_path)
    start = END - WINDOW
    fill(database, trending(scripted_scans(SCANS, start, plant_id="plant-a", seed=2), 0.05),
         log="window-a")
    fill(database, scripted_scans(SCANS, start, plant_id="plant-b", seed=5), log="window-b")
    entry = registry.get("iforest", "1")
    await deploy(registry, entry, None, stack.kafka, topics, "test")
    await deploy(registry, entry, "plant-z", stack.kafka, topics, "test")  # no readings

    settings = ModelOpsSettings(
        registry_dir=tmp_path / "registry", topic_prefix=topics.prefix, kafka=stack.kafka,
        database=database, drift_interval_s=WINDOW.total_seconds(),
        drift_window_s=WINDOW.total_seconds(), drift_metrics_port=0)
    metrics = DriftMetrics()
    server = serve_metrics(metrics, "127.0.0.1", 0)
    try:
        watch = DriftWatch(settings, registry, metrics, topics)
        report = await watch.check_once(now=END + timedelta(minutes=2))

        assert report.failed is None
        assert (report.window.start, report.window.end) == (start, END)
        by_plant = {m.plant_id: m for m in report.measured}
        assert sorted(by_plant) == ["plant-a", "plant-b"]
        assert by_plant["plant-a"].drifting
        assert max(by_plant["plant-a"].psi.values()) > settings.drift_threshold
        assert not by_plant["plant-b"].drifting
        assert max(by_plant["plant-b"].psi.values()) < settings.drift_threshold
        assert {m.model.version for m in report.measured} == {"1"}
        assert by_plant["plant-a"].model.sha256 == entry.metadata["sha256"]
        assert report.skipped == [(Target("plant-z", "iforest", "1"),
                                   "no readings in the window")]

        streams = [Stream.MODEL_DRIFT, Stream.ANOMALIES]
        async with Collector(stack, topics, streams) as log:
            async def published() -> bool:
                await log.poll()
                return len(log.events) >= 3

            await eventually_async(published, timeout=30, what="the pass's events")
            ends = await log.consumer.end_offsets(log.tps)
            assert sum(ends.values()) == len(log.events) == 3
            measured = log.of(ModelDriftMeasured)
            assert {(m.plant_id, m.drifting) for m in measured} == {("plant-a", True),
                                                                  ("plant-b", False)}
            (alert,) = log.of(AnomalyDetected)
            assert alert.plant_id == "plant-a" and alert.detectors[0].name == "drift"
            assert [m.version for m in alert.models] == ["1"]
            assert alert.findings[0].check == "drift"
            assert alert.top_features[0].name.startswith("psi:")

        again = await watch.check_once(now=END + timedelta(minutes=5))
        assert [m.event_id for m in again.measured] == [m.event_id for m in report.measured]
        assert [a.event_id for a in again.alerts] == [alert.event_id]

        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{server.port}/metrics", timeout=10)
        assert response.status_code == 200
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for family in text_string_to_metric_families(response.text)
                   for s in family.samples}
        for plant, drifting in (("plant-a", 1.0), ("plant-b", 0.0)):
            labels = (("model", "iforest"), ("plant", plant))
            assert samples[("biogas_model_drifting", labels)] == drifting
            for feature, value in by_plant[plant].psi.items():
                psi_labels = (("feature", feature), *labels, ("version", "1"))
                assert samples[("biogas_model_feature_psi", psi_labels)] == value
        assert ("biogas_model_drifting", (("model", "iforest"), ("plant", "plant-z"))) \
            not in samples
        assert samples[("biogas_model_drift_last_run_timestamp_seconds", ())] > END.timestamp()
        assert samples[("biogas_model_drift_failed_passes_total", ())] == 0
    finally:
        server.stop()


async def test_a_pass_with_the_broker_gone_fails_and_the_next_one_publishes(
        stack: StackEndpoints, topics: Topics, database: DatabaseSettings,
        tmp_path: Path) -> None:
    registry = registry_with_deployable_model(database, tmp_path)
    fill(database, scripted_scans(SCANS, END - WINDOW, plant_id="plant-b", seed=5),
         log="window-b")
    registry.record_deployment({"model_id": "iforest", "version": "1", "plant_id": "plant-b"})

    def settings(bootstrap_servers: str) -> ModelOpsSettings:
        return ModelOpsSettings(
            registry_dir=tmp_path / "registry", topic_prefix=topics.prefix, database=database,
            kafka=KafkaSettings(bootstrap_servers=bootstrap_servers),
            drift_interval_s=WINDOW.total_seconds(), drift_window_s=WINDOW.total_seconds())

    metrics = DriftMetrics()
    failed = await DriftWatch(settings("127.0.0.1:1"), registry, metrics, topics
                              ).check_once(now=END)
    assert failed.failed is not None and "127.0.0.1:1" in failed.failed
    assert metrics.registry.get_sample_value("biogas_model_drift_failed_passes_total") == 1
    assert metrics.registry.get_sample_value(
        "biogas_model_drift_last_run_timestamp_seconds") == 0

    report = await DriftWatch(settings(stack.bootstrap_servers), registry, metrics, topics
                              ).check_once(now=END)
    assert report.failed is None and not report.alerts
    assert [(m.plant_id, m.drifting) for m in report.measured] == [("plant-b", False)]
    async with Collector(stack, topics, [Stream.MODEL_DRIFT]) as log:
        async def published() -> bool:
            await log.poll()
            return bool(log.events)

        await eventually_async(published, timeout=30, what="the measurement")
        assert [e.event_id for e in log.events] == [report.measured[0].event_id]
    last_run = metrics.registry.get_sample_value("biogas_model_drift_last_run_timestamp_seconds")
    assert last_run is not None and last_run > END.timestamp()
