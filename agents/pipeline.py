"""The detector agent's logic without Kafka: scans in, features and anomalies out.

Pure and synchronous, so the Faust agent, the bare-aiokafka benchmark baseline and offline
replays run exactly the same code. Output events get deterministic ids (UUID5 of the scan's
``(plant, device, poll group, edge_boot_id, seq)``) so a replay after a crash re-emits the same
events, which consumers recognise by ``event_id``/``anomaly_id``.

Retrospective rule: a scan is retrospective when its ``source_ts`` is more than
``late_after_s`` behind the wall clock, or behind the stream's watermark (the newest
``source_ts`` seen). Its anomalies carry ``retrospective=true``; alerts do not page for them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import repeat
from operator import attrgetter, is_

import numpy as np

from agents.detectors.deployed import DeployedModel
from agents.detectors.rules import RuleSpec
from agents.detectors.voting import Verdict
from agents.explain import findings
from agents.features.plant import PlantFeatures
from agents.features.reading import (
    FEATURE_WEIGHTS,
    MODEL_FEATURES,
    ReadingFeatures,
    compute,
    numeric,
    published_all,
)
from agents.features.windows import F64, BoolArray
from agents.shadow import score_shadows
from agents.stream_state import DetectionConfig, StreamState
from agents.tag_catalogue import EMPTY, PlantCatalogue
from streams.events import (
    AnomalyDetected,
    DetectorVote,
    FeatureContribution,
    FeaturesComputed,
    LabResultRecorded,
    ModelShadowCompared,
    Quality,
    ScanRecorded,
    TagsConfigured,
)

NAMESPACE = uuid.UUID("7d0f6b7e-3f5c-4b8e-9a59-52b1c1a5e0d1")
MAX_TAGS = 20
TOP_FEATURES = 6
PER_TAG = 3
_WEIGHTS = np.array(FEATURE_WEIGHTS)


def stream_key(scan: ScanRecorded) -> str:
    return f"{scan.plant_id}|{scan.device}|{scan.poll_group}"


def plant_key(plant_id: str) -> str:
    """The snapshot key of a plant's features (two parts: never equal to a stream key)."""
    return f"{plant_id}|plant-features"


@dataclass
class ScanOutcome:
    """What one scan produced."""

    features: list[FeaturesComputed] = field(default_factory=list)
    anomalies: list[AnomalyDetected] = field(default_factory=list)
    shadows: list[ModelShadowCompared] = field(default_factory=list)
    skipped: bool = False


class ModelSlot:
    """The deployed ONNX models by (plant scope, model id), swapped atomically on a verified
    deployment. Each model id votes on its own; a plant-specific deployment of a model id wins
    over the one for every plant (scope None). Shadow deployments are kept apart, chosen the
    same way, and never vote (see :mod:`agents.shadow`)."""

    def __init__(self, *detectors: DeployedModel) -> None:
        self.detectors: dict[tuple[str | None, str], DeployedModel] = {
            (None, d.name): d for d in detectors}
        self.shadows: dict[tuple[str | None, str], DeployedModel] = {}
        self._by_plant: dict[str, list[DeployedModel]] = {}
        self._shadows_by_plant: dict[str, list[DeployedModel]] = {}

    def install(self, plant_id: str | None, detector: DeployedModel,
                role: str = "live") -> DeployedModel | None:
        """Swap in a model (its ``name`` is the model id) as live or as a shadow; returns the
        one it replaces."""
        table = self.shadows if role == "shadow" else self.detectors
        previous = table.get((plant_id, detector.name))
        table[(plant_id, detector.name)] = detector
        self._by_plant.clear()
        self._shadows_by_plant.clear()
        return previous

    def remove_shadow(self, plant_id: str | None, model_id: str) -> DeployedModel | None:
        """End a shadow deployment; returns the model that was shadowed (None if none)."""
        removed = self.shadows.pop((plant_id, model_id), None)
        self._shadows_by_plant.clear()
        return removed

    def for_plant(self, plant_id: str) -> list[DeployedModel]:
        found = self._by_plant.get(plant_id)
        if found is None:
            found = self._by_plant[plant_id] = _choose(self.detectors, plant_id)
        return found

    def shadows_for_plant(self, plant_id: str) -> list[DeployedModel]:
        found = self._shadows_by_plant.get(plant_id)
        if found is None:
            found = self._shadows_by_plant[plant_id] = _choose(self.shadows, plant_id)
        return found


def _choose(table: dict[tuple[str | None, str], DeployedModel],
            plant_id: str) -> list[DeployedModel]:
    chosen: dict[str, DeployedModel] = {}
    for (scope, model_id), det in table.items():
        if scope is None:
            chosen.setdefault(model_id, det)
    for (scope, model_id), det in table.items():
        if scope == plant_id:
            chosen[model_id] = det
    return [chosen[k] for k in sorted(chosen)]


class ScanProcessor:
    """Per-stream state and the whole per-scan path: features, detectors, vote, events."""

    def __init__(self, config: DetectionConfig, rules: tuple[RuleSpec, ...], *,
                 features_every_s: int = 60, late_after_s: float = 900.0,
                 model: ModelSlot | None = None, shadow_window_s: float = 3600.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.config, self.rules = config, rules
        self.features_every_s, self.late_after_s = features_every_s, late_after_s
        self.shadow_window_s = shadow_window_s
        self.model = model or ModelSlot()
        self.clock = clock
        self.states: dict[str, StreamState] = {}
        self.plants: dict[str, PlantFeatures] = {}
        #: each plant's tag catalogue (kinds and roles), from ``TagsConfigured``
        self.catalogues: dict[str, PlantCatalogue] = {}

    def catalogue(self, event: TagsConfigured) -> None:
        """Apply a plant's tag catalogue (the detectors take its kinds and roles from the next
        scan on)."""
        self.catalogues[event.plant_id] = self.catalogues.get(event.plant_id, EMPTY).merged(
            event)

    def state(self, key: str) -> StreamState:
        found = self.states.get(key)
        if found is None:
            found = self.states[key] = StreamState(self.config, self.rules)
        return found

    def restore(self, key: str, data: bytes) -> None:
        self.states[key] = StreamState.from_bytes(data, self.config, self.rules)

    def snapshot(self, key: str) -> bytes:
        return self.state(key).to_bytes()

    def lab_result(self, event: LabResultRecorded) -> None:
        self._plant(event.plant_id).add_lab(event)

    def restore_plant(self, plant_id: str, data: bytes) -> None:
        self.plants[plant_id] = PlantFeatures.from_bytes(data)

    def snapshot_plant(self, plant_id: str) -> bytes:
        return self._plant(plant_id).to_bytes()

    def _plant(self, plant_id: str) -> PlantFeatures:
        found = self.plants.get(plant_id)
        if found is None:
            found = self.plants[plant_id] = PlantFeatures()
        return found

    def process(self, scan: ScanRecorded) -> ScanOutcome:
        """Apply one scan; a scan already applied (replay) is skipped."""
        key = stream_key(scan)
        state = self.state(key)
        boot = str(scan.edge_boot_id)
        if state.already_applied(boot, scan.seq):
            return ScanOutcome(skipped=True)
        ts = scan.source_ts.timestamp()
        now = self.clock()
        retrospective = (now.timestamp() - ts > self.late_after_s
                         or state.windows.watermark - ts > self.late_after_s)
        tags, values, good = _columns(scan)
        catalogue = self.catalogues.get(scan.plant_id, EMPTY)
        tags, values, good = state.derivation(tags, catalogue).extend(tags, values, good)
        windows = state.windows
        step = windows.update(ts, windows.slots(tags), values, good)
        feats = compute(windows, ts, step)
        models = self.model.for_plant(scan.plant_id)
        verdict = state.detect(ts, feats, models, catalogue)
        plant = self._plant(scan.plant_id)
        plant.add_scan(ts, tags, values, good)
        state.mark_applied(boot, scan.seq)
        out = ScanOutcome()
        if ts >= state.next_emit_ts:
            state.next_emit_ts = (ts // self.features_every_s + 1) * self.features_every_s
            out.features = self._features(scan, tags, state, feats, plant)
        if verdict.anomalous.any():
            out.anomalies.append(self._anomaly(scan, tags, state, feats, verdict, models, now,
                                               retrospective))
        shadows = self.model.shadows_for_plant(scan.plant_id)
        if shadows or state.shadows:
            out.shadows = score_shadows(
                state, scan.plant_id, f"{scan.device}/{scan.poll_group}", ts, tags, feats,
                verdict, {m.name: m.ref for m in models}, shadows, self.shadow_window_s)
        return out

    def _features(self, scan: ScanRecorded, tags: list[str], state: StreamState,
                  feats: ReadingFeatures, plant: PlantFeatures) -> list[FeaturesComputed]:
        # Every field below comes from the validated scan or is a finite float under a fixed
        # feature name, so the events are built without validating them again.
        base = f"{stream_key(scan)}|{scan.edge_boot_id}|{scan.seq}"

        def make(event_id: uuid.UUID, tag: str | None,
                 features: dict[str, float]) -> FeaturesComputed:
            return FeaturesComputed.model_construct(
                event_id=event_id, plant_id=scan.plant_id, tag=tag,
                window_s=self.features_every_s, event_time=scan.source_ts, features=features,
                source_seq=scan.seq, edge_boot_id=scan.edge_boot_id)

        events = [
            make(uuid.uuid5(NAMESPACE, f"features|{base}|{tag}"), tag, values)
            for tag, values in zip(tags, published_all(state.windows, feats), strict=True)
            if values]
        plant_values = plant.features()
        if plant_values:
            events.append(make(uuid.uuid5(NAMESPACE, f"plant-features|{base}"), None,
                               plant_values))
        return events

    def _anomaly(self, scan: ScanRecorded, tags: list[str], state: StreamState,
                 feats: ReadingFeatures, verdict: Verdict, models: list[DeployedModel],
                 now: datetime, retrospective: bool) -> AnomalyDetected:
        hits = np.flatnonzero(verdict.anomalous)
        order = hits[np.argsort(-verdict.strength[hits], kind="stable")][:MAX_TAGS]
        top = int(order[0])
        votes = tuple(
            DetectorVote(name=r.name, score=float(r.score[top]),
                         threshold=float(r.threshold[top]), voted=bool(r.voted[top]))
            for r in verdict.results if not r.is_rule or r.voted[top])
        voted = {r.name for r in verdict.results if r.voted[order].any()}
        used = tuple(m.ref for m in models if m.name in voted and m.ref is not None)
        base = f"{stream_key(scan)}|{scan.edge_boot_id}|{scan.seq}"
        found = findings(scan.source_ts.timestamp(), state.windows.tags, state.roles, feats,
                         verdict, state.baseline, order, state.process)
        return AnomalyDetected(
            event_id=uuid.uuid5(NAMESPACE, f"anomaly-event|{base}"),
            anomaly_id=uuid.uuid5(NAMESPACE, f"anomaly|{base}"),
            plant_id=scan.plant_id, tags=tuple(tags[i] for i in order),
            event_time=scan.source_ts, detected_at=now,
            score=float(verdict.strength[top]), threshold=1.0, detectors=votes,
            top_features=tuple(_contributions(tags, feats, verdict, order)),
            models=used, findings=tuple(found), retrospective=retrospective)


_TAG, _VALUE, _QUALITY = attrgetter("tag"), attrgetter("value"), attrgetter("quality")


def _columns(scan: ScanRecorded) -> tuple[list[str], F64, BoolArray]:
    """Tags, values (:func:`numeric`) and good-quality flags of the scan's readings."""
    readings = scan.readings
    n = len(readings)
    raw = list(map(_VALUE, readings))
    if set(map(type, raw)) == {float}:
        values = np.array(raw, dtype=np.float64)
    else:
        values = np.fromiter(map(numeric, raw), dtype=np.float64, count=n)
    good = np.fromiter(map(is_, map(_QUALITY, readings), repeat(Quality.GOOD, n)),
                       dtype=np.bool_, count=n)
    return list(map(_TAG, readings)), values, good


_RULE_FEATURE = {"rule.range": "value", "rule.rate": "slope_per_s_1m",
                 "rule.stuck": "since_change_s", "rule.quality": "bad_share_1m"}


def _rule_value(feats: ReadingFeatures, feature: str, i: int) -> float:
    value = {"value": feats.step.value[i], "slope_per_s_1m": feats.agg.slope_per_s[0, i],
             "since_change_s": feats.since_change_s[i],
             "bad_share_1m": feats.agg.bad_share[0, i]}[feature]
    return float(value) if np.isfinite(value) else 0.0


def _contributions(tags: list[str], feats: ReadingFeatures, verdict: Verdict,
                   order: Iterable[int]) -> list[FeatureContribution]:
    """Why the readings are anomalous, strongest tag first, at most ``PER_TAG`` per tag: the
    feature of each violated rule (contribution 1), then the model inputs that pushed furthest
    from normal, as shares of ``sum w |x|`` (``FEATURE_WEIGHTS``)."""
    found: list[FeatureContribution] = []
    for i in order:
        mine: list[FeatureContribution] = []
        for r in verdict.results:
            if r.is_rule and r.voted[i]:
                feature = _RULE_FEATURE[r.name]
                mine.append(FeatureContribution(name=f"{tags[i]}:{feature}",
                                                value=_rule_value(feats, feature, i),
                                                contribution=1.0))
            elif r.measure is not None and r.voted[i]:
                # a detector's own measure (the envelope's deviation, the novelty score), as a
                # share of its total over the scan: how much of the departure this tag carries
                whole = float(r.measure.sum())
                measure = r.labels[i] if r.labels is not None else r.measure_name
                mine.append(FeatureContribution(
                    name=f"{tags[i]}:{r.name}.{measure}", value=float(r.measure[i]),
                    contribution=float(r.measure[i]) / whole if whole > 0 else 1.0))
        x = np.abs(feats.model_x[i]) * _WEIGHTS
        total = float(x.sum())
        for j in np.argsort(-x)[:TOP_FEATURES]:
            if x[j] > 0 and total > 0:
                mine.append(FeatureContribution(
                    name=f"{tags[i]}:{MODEL_FEATURES[j]}", value=float(feats.model_x[i, j]),
                    contribution=float(x[j] / total)))
        found.extend(mine[:PER_TAG])
        if len(found) >= TOP_FEATURES:
            break
    return found[:TOP_FEATURES]
