"""The standing drift check (``biogas models drift-watch``): every interval, the PSI of the
inputs of every live model at every plant it serves, over the last window, as events and
metrics.

A pass reads the live deployments from the registry's deployment history (the last version
per model and plant scope; a plant's own deployment wins over the one for every plant, as in
the detectors), takes each deployment's plant or, for a deployment to every plant, every plant
with readings in the window, reads the window's model inputs from the projections and
publishes one ``ModelDriftMeasured`` per plant and model, plus the ``drift`` AnomalyDetected
when a feature's PSI exceeds the threshold (the alert agent opens the alert). Windows end on
multiples of the interval (UTC), so a repeated pass over the same window publishes the same
event ids. A plant without rows is logged and skipped; a registry, database or broker error
fails the pass, which is logged and retried the next interval.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from modelops.drift import (
    WINDOW_MODELS,
    Reference,
    drift_anomaly,
    drift_measured,
    min_rows,
    psi_per_feature,
    references_of,
)
from modelops.drift_metrics import DriftMetrics
from modelops.errors import RegistryError
from modelops.publish import live_deployments, publish
from modelops.registry import Registry
from modelops.settings import ModelOpsSettings
from modelops.training_data import TrainingRange, from_projections, plants_with_readings
from streams.errors import BiogasError
from streams.events import AnomalyDetected, ModelDriftMeasured, ModelRef
from streams.logsetup import get_logger
from streams.topics import Topics

log = get_logger("modelops.drift_watch")


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


def window_ending(now: datetime, interval_s: float, window_s: float) -> Window:
    """The window of ``window_s`` seconds that ends at the last multiple of ``interval_s``
    (Unix time) not after ``now``."""
    end = datetime.fromtimestamp(math.floor(now.timestamp() / interval_s) * interval_s, UTC)
    return Window(end - timedelta(seconds=window_s), end)


def seconds_to_next(now: datetime, interval_s: float) -> float:
    """Seconds from ``now`` to the next multiple of ``interval_s`` (Unix time)."""
    return interval_s - now.timestamp() % interval_s


@dataclass(frozen=True, order=True)
class Target:
    """One model version to check at one plant."""

    plant_id: str
    model_id: str
    version: str


def targets(live: Mapping[tuple[str | None, str], str], plants: Iterable[str]) -> list[Target]:
    """What a pass checks: every plant-scoped deployment at its plant, and every deployment
    to all plants at each of ``plants`` that has no deployment of that model of its own."""
    own = {(p, m): v for (p, m), v in live.items() if p is not None}
    found = {Target(p, m, v) for (p, m), v in own.items()}
    for (scope, model_id), version in live.items():
        if scope is None:
            found.update(Target(p, model_id, version) for p in plants
                         if (p, model_id) not in own)
    return sorted(found)


@dataclass
class PassReport:
    """What one pass measured, skipped and published, or why it failed."""

    window: Window
    measured: list[ModelDriftMeasured] = field(default_factory=list)
    alerts: list[AnomalyDetected] = field(default_factory=list)
    skipped: list[tuple[Target, str]] = field(default_factory=list)
    failed: str | None = None

    @property
    def drifting(self) -> list[ModelDriftMeasured]:
        return [m for m in self.measured if m.drifting]


Model = tuple[ModelRef, dict[str, Reference]]


class DriftWatch:
    """Runs passes: ``check_once`` for one, ``run`` every interval until stopped."""

    def __init__(self, settings: ModelOpsSettings, registry: Registry, metrics: DriftMetrics,
                 topics: Topics | None = None) -> None:
        self._settings = settings
        self._registry = registry
        self._topics = topics or Topics(settings.topic_prefix)
        self.metrics = metrics

    @property
    def registry_location(self) -> str:
        return self._registry.storage.location

    async def run(self, stop: asyncio.Event) -> None:
        """A pass now, then one at every multiple of the interval, until ``stop`` is set (a
        pass under way is cancelled)."""
        interval = self._settings.drift_interval_s
        stopping = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                check = asyncio.create_task(self.check_once())
                await asyncio.wait({check, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if stop.is_set():
                    check.cancel()
                    await asyncio.gather(check, return_exceptions=True)
                    break
                delay = seconds_to_next(datetime.now(UTC), interval)
                log.info("drift_next_pass", in_s=round(delay, 1))
                await asyncio.wait({stopping}, timeout=delay)
        finally:
            stopping.cancel()

    async def check_once(self, now: datetime | None = None) -> PassReport:
        """One pass over the window ending at the last interval boundary before ``now``."""
        s = self._settings
        now = now or datetime.now(UTC)
        report = PassReport(window_ending(now, s.drift_interval_s, s.drift_window_s))
        w = report.window
        log.info("drift_pass_started", since=w.start.isoformat(), until=w.end.isoformat())
        try:
            await self._measure(report, now)
            events = [*report.measured, *report.alerts]
            if events:
                await publish(s.kafka, self._topics, events)
        except BiogasError as exc:
            report.failed = str(exc)
            self.metrics.failed_passes.inc()
            log.error("drift_pass_failed", until=w.end.isoformat(), error=str(exc))
            return report
        self.metrics.finished(datetime.now(UTC).timestamp(),
                              ((m.plant_id, m.model.model_id) for m in report.measured))
        log.info("drift_pass_done", until=w.end.isoformat(), checked=len(report.measured),
                 drifting=len(report.drifting), skipped=len(report.skipped),
                 published=len(report.measured) + len(report.alerts))
        return report

    async def _measure(self, report: PassReport, now: datetime) -> None:
        w = report.window
        live = live_deployments(await asyncio.to_thread(self._registry.deployments))
        if not live:
            log.info("drift_nothing_deployed", registry=self._registry.storage.location)
            return
        plants: list[str] = []
        if any(scope is None for scope, _ in live):
            plants = await asyncio.to_thread(plants_with_readings, self._settings.database,
                                             w.start, w.end)
        models: dict[tuple[str, str], Model | str] = {}
        for target in targets(live, plants):
            key = (target.model_id, target.version)
            if key not in models:
                models[key] = await self._model(target)
            model = models[key]
            if isinstance(model, str):
                report.skipped.append((target, model))
                continue
            await self._check(report, target, model, now)

    async def _model(self, target: Target) -> Model | str:
        """The version's reference and training distribution, or why it cannot be checked."""
        try:
            entry = await asyncio.to_thread(self._registry.get, target.model_id,
                                            target.version)
            if entry.metadata.get("kind") in WINDOW_MODELS:
                log.info("drift_not_measured_for_window_model", model=target.model_id,
                         version=target.version, kind=entry.metadata.get("kind"))
                return f"an {entry.metadata.get('kind')} model: no PSI"
            refs = references_of(entry.metadata)
        except RegistryError as exc:
            log.error("drift_model_unusable", model=target.model_id, version=target.version,
                      error=str(exc))
            return str(exc)
        ref = ModelRef(model_id=target.model_id, version=target.version,
                       sha256=entry.metadata["sha256"])
        return ref, refs

    async def _check(self, report: PassReport, target: Target, model: Model,
                     now: datetime) -> None:
        s, w = self._settings, report.window
        ref, refs = model
        rows = await asyncio.to_thread(from_projections, s.database,
                                       TrainingRange(target.plant_id, w.start, w.end))
        needed = min_rows(s.drift_threshold)
        if len(rows) == 0:
            log.warning("drift_no_rows", plant=target.plant_id, model=target.model_id,
                        since=w.start.isoformat(), until=w.end.isoformat())
            report.skipped.append((target, "no readings in the window"))
            return
        if len(rows) < needed:
            reason = (f"{len(rows)} rows in the window, {needed} needed for a PSI limit of "
                      f"{s.drift_threshold:g}")
            log.warning("drift_too_few_rows", plant=target.plant_id, model=target.model_id,
                        rows=len(rows), needed=needed, since=w.start.isoformat(),
                        until=w.end.isoformat())
            report.skipped.append((target, reason))
            return
        values = psi_per_feature(refs, rows)
        event = drift_measured(target.plant_id, values, s.drift_threshold, ref,
                               window_start=w.start, window_end=w.end, rows=len(rows), now=now)
        report.measured.append(event)
        self.metrics.record(event)
        worst = max(values, key=lambda k: values[k])
        log.info("drift_checked", plant=target.plant_id, model=target.model_id,
                 version=target.version, rows=len(rows), worst_feature=worst,
                 worst_psi=round(values[worst], 4), drifting=event.drifting)
        alert = drift_anomaly(target.plant_id, values, s.drift_threshold, ref,
                              window_end=w.end, now=now)
        if alert is not None:
            report.alerts.append(alert)
