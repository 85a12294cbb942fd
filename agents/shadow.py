"""Shadow scoring: a candidate model beside the live version of its model id, without voting.

For each scan of a plant with a shadow deployment, the ensemble votes a second time with the
candidate's result in place of the live model's (or added, when no version of that model id
is live at the plant); every other detector's result is the live run's, so the two decisions
differ only by the model. Per stream and shadow model a :class:`ShadowTally` counts both
decisions over a window of event time (aligned to multiples of its length); the first scan
after the window closes it into a ``ModelShadowCompared``. A window also closes early when the
live version changes; a new candidate version starts a new tally. Tallies are part of the
stream state, so a restart neither loses nor repeats a window (event ids are UUID5 of plant,
stream, model, candidate and window).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np

from agents.detectors.deployed import DeployedModel
from agents.detectors.voting import Verdict
from agents.features.reading import ReadingFeatures
from agents.features.windows import BoolArray
from streams.events import ModelRef, ModelShadowCompared

NAMESPACE = uuid.UUID("0b5e6c1e-8f43-4a53-9a43-2d7d6f3c9e21")
MAX_TAGS = 20


class ShadowHost(Protocol):
    """What shadow scoring needs of a stream's state (:class:`agents.stream_state.StreamState`,
    which holds the tallies; this module does not import it)."""

    shadows: dict[str, ShadowTally]

    def shadow_verdict(self, model: DeployedModel, feats: ReadingFeatures,
                       live: Verdict) -> Verdict: ...

    def forget_shadow(self, model_id: str) -> None: ...


def _ref(data: dict[str, str] | None) -> ModelRef | None:
    return None if data is None else ModelRef(**data)


@dataclass
class ShadowTally:
    """The decisions of one window for one shadow model on one stream."""

    candidate: ModelRef
    live: ModelRef | None
    window_start: float
    window_end: float
    readings: int = 0
    live_alarms: int = 0
    candidate_alarms: int = 0
    both_alarms: int = 0
    differing: dict[str, int] = field(default_factory=dict)

    def add(self, tags: list[str], live: BoolArray, candidate: BoolArray) -> None:
        self.readings += live.shape[0]
        self.live_alarms += int(np.count_nonzero(live))
        self.candidate_alarms += int(np.count_nonzero(candidate))
        self.both_alarms += int(np.count_nonzero(live & candidate))
        for i in np.flatnonzero(live != candidate):
            tag = tags[i]
            self.differing[tag] = self.differing.get(tag, 0) + 1

    def event(self, plant_id: str, stream: str, end: float) -> ModelShadowCompared | None:
        """The window's comparison, ending at ``end`` (None when nothing was decided)."""
        if self.readings == 0 or end <= self.window_start:
            return None
        top = sorted(self.differing.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_TAGS]
        live = "-" if self.live is None else self.live.sha256
        name = (f"{plant_id}|{stream}|{self.candidate.model_id}|{self.candidate.sha256}|"
                f"{live}|{self.window_start!r}")
        return ModelShadowCompared(
            event_id=uuid.uuid5(NAMESPACE, name), plant_id=plant_id, stream=stream,
            model_id=self.candidate.model_id, live=self.live, candidate=self.candidate,
            window_start=datetime.fromtimestamp(self.window_start, UTC),
            window_end=datetime.fromtimestamp(end, UTC), readings=self.readings,
            live_alarms=self.live_alarms, candidate_alarms=self.candidate_alarms,
            both_alarms=self.both_alarms, differing_by_tag=dict(top))

    def to_meta(self) -> dict[str, Any]:
        return {"candidate": self.candidate.model_dump(),
                "live": None if self.live is None else self.live.model_dump(),
                "window": [self.window_start, self.window_end],
                "counts": [self.readings, self.live_alarms, self.candidate_alarms,
                           self.both_alarms], "differing": self.differing}

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> ShadowTally:
        candidate = _ref(meta["candidate"])
        if candidate is None:
            raise ValueError("a shadow tally without its candidate")
        start, end = meta["window"]
        readings, live_alarms, candidate_alarms, both = meta["counts"]
        return cls(candidate=candidate, live=_ref(meta["live"]), window_start=float(start),
                   window_end=float(end), readings=int(readings),
                   live_alarms=int(live_alarms), candidate_alarms=int(candidate_alarms),
                   both_alarms=int(both),
                   differing={str(k): int(v) for k, v in meta["differing"].items()})


def window_of(ts: float, length: float) -> tuple[float, float]:
    """The window of event time holding ``ts``, aligned to multiples of ``length``."""
    start = (ts // length) * length
    return start, start + length


def score_shadows(state: ShadowHost, plant_id: str, stream: str, ts: float, tags: list[str],
                  feats: ReadingFeatures, verdict: Verdict, live: dict[str, ModelRef | None],
                  shadows: list[DeployedModel], window_s: float) -> list[ModelShadowCompared]:
    """Score a plant's ``shadows`` on one scan of a stream (after the live vote ``verdict``;
    ``live`` maps the model ids voting to their versions); returns the comparisons of the
    windows that closed."""
    by_id = {m.name: m for m in shadows}
    done: list[ModelShadowCompared] = []
    closed_at: dict[str, float] = {}
    for model_id, tally in list(state.shadows.items()):
        model = by_id.get(model_id)
        if ts >= tally.window_end or model is None or model.ref != tally.candidate \
                or live.get(model_id) != tally.live:
            end = min(ts, tally.window_end)
            event = tally.event(plant_id, stream, end)
            if event is not None:
                done.append(event)
            del state.shadows[model_id]
            closed_at[model_id] = end
        if model is None:
            state.forget_shadow(model_id)
    for model in shadows:
        if model.ref is None:
            continue
        found = state.shadows.get(model.name)
        if found is None:
            start, end = window_of(ts, window_s)
            # a window closed early (another live or candidate version) is not counted twice
            start = max(start, closed_at.get(model.name, start))
            found = state.shadows[model.name] = ShadowTally(
                candidate=model.ref, live=live.get(model.name), window_start=start,
                window_end=end)
        found.add(tags, verdict.anomalous, state.shadow_verdict(model, feats, verdict).anomalous)
    return done
