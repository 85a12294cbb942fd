"""Every detector of a scan stream behind the one contract
(:class:`agents.detectors.contract.ScanDetector`), each reading and updating its part of the
stream's state (:class:`agents.stream_state.StreamState`, which owns and snapshots it):

* ``zscore``: the z-score family on per-tag adaptive thresholds (``statistical`` only);
* a deployed model (IsolationForest, autoencoder: per-tag adaptive thresholds; an envelope:
  its own rolling track), under its id, or ``shadow:<id>`` for a shadow;
* ``hst``: HalfSpaceTrees over the scan's z-scores (``statistical`` only);
* ``baseline`` and ``process``: what commissioning learnt, and the process checks on it;
* ``novelty``: values never seen, for the tags a rule gives a novelty warm-up;
* ``rules``: the rules file's limits (one result per rule kind).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from agents.detectors.baseline import BaselineBank
from agents.detectors.contract import ScanContext
from agents.detectors.deployed import DeployedModel
from agents.detectors.envelope import WindowModel
from agents.detectors.envelope_track import EnvelopeTrack
from agents.detectors.hst import HalfSpaceTreesDetector, squash
from agents.detectors.novelty import NoveltyBank
from agents.detectors.process import ProcessChecks
from agents.detectors.protocol import ZScoreDetector
from agents.detectors.rules import RULE_NAMES, RuleBook
from agents.detectors.thresholds import QuantileThresholds
from agents.detectors.voting import DetectorResult
from agents.features.windows import F64, TagWindows
from agents.tag_catalogue import PlantCatalogue

_ZSCORE = ZScoreDetector()
HST_TOP_TAGS = 3
HST_MIN_Z = 3.0
#: Samples the short window needs before the rate and quality rules judge it.
MIN_SHORT_SAMPLES = 10
_RULE_RESULTS = tuple(f"rule.{name}" for name in RULE_NAMES)


class VoterState(Protocol):
    """What the voters use of a stream's state (:class:`agents.stream_state.StreamState`, which
    owns and snapshots it; this module does not import it)."""

    windows: TagWindows
    rulebook: RuleBook
    novelty: NoveltyBank
    baseline: BaselineBank
    thresholds: dict[str, QuantileThresholds]
    model_sha: dict[str, str | None]
    envelopes: dict[str, EnvelopeTrack]
    hst: HalfSpaceTreesDetector
    hst_threshold: QuantileThresholds
    hst_cols: npt.NDArray[np.int64] | None
    forced: npt.NDArray[np.int64]
    process: ProcessChecks
    roles: list[str | None]

    def new_thresholds(self) -> QuantileThresholds: ...

    def apply_catalogue(self, catalogue: PlantCatalogue) -> None: ...


def adaptive(state: VoterState, name: str, ctx: ScanContext, score: F64,
             key: str | None = None) -> DetectorResult:
    """Scores voted on by the per-tag adaptive thresholds kept under ``key`` (or ``name``)."""
    idx = ctx.feats.step.idx
    threshold, voted = state.thresholds[key or name].decide(idx, score, ctx.eligible,
                                                            state.windows.selector(idx))
    return DetectorResult(name=name, score=score, threshold=threshold, voted=voted)


class ZScoreVoter:
    name = "zscore"

    def __init__(self, state: VoterState) -> None:
        self.state = state

    def vote(self, ctx: ScanContext) -> Sequence[DetectorResult]:
        return (adaptive(self.state, self.name, ctx, _ZSCORE.score_rows(ctx.feats.model_x)),)


class ModelVoter:
    """A deployed model; its thresholds (or envelope track) kept under ``key``."""

    def __init__(self, state: VoterState, model: DeployedModel, key: str) -> None:
        self.state, self.model, self.key = state, model, key
        self.name = model.name

    def vote(self, ctx: ScanContext) -> Sequence[DetectorResult]:
        state, model, key = self.state, self.model, self.key
        if isinstance(model, WindowModel):
            track = state.envelopes.get(key)
            if track is None or not track.fits(model):
                track = state.envelopes[key] = EnvelopeTrack.for_model(model)
            step = ctx.feats.step
            found = track.vote(model, state.windows.index, len(state.windows.tags), step.idx,
                               step.value, step.valid)
            return () if found is None else (found,)
        sha = model.ref.sha256 if model.ref is not None else None
        if key not in state.model_sha or sha != state.model_sha[key]:
            # a new model (or version) scores differently: its thresholds learn anew
            state.thresholds[key] = state.new_thresholds()
            state.model_sha[key] = sha
        return (adaptive(state, model.name, ctx, model.score_rows(ctx.feats.model_x), key),)


class HstVoter:
    """One HalfSpaceTrees score per scan over its tags' squashed z-scores; when it passes
    its threshold, the (at most ``HST_TOP_TAGS``) tags furthest out vote."""

    name = "hst"

    def __init__(self, state: VoterState) -> None:
        self.state = state

    def vote(self, ctx: ScanContext) -> Sequence[DetectorResult]:
        state, feats = self.state, ctx.feats
        n = feats.step.idx.shape[0]
        valid = feats.step.valid
        hst = state.hst
        cols = feats.step.idx[valid]
        score = 0.0
        threshold = state.hst_threshold.threshold_one(0)
        has_sample = cols.size > 0
        ready = hst.learned >= hst.window_size and has_sample
        if has_sample:
            if hst.features is None:
                tags = state.windows.tags
                hst.build([tags[i] for i in cols])
            if state.hst_cols is None:
                index = state.windows.index
                state.hst_cols = np.array([index[f] for f in hst.features or []],
                                          dtype=np.int64)
            by_col = np.empty(len(state.windows.tags))
            by_col.fill(np.nan)
            by_col[cols] = squash(feats.z_value[valid])
            by_col[state.rulebook.non_statistical] = np.nan  # left out, as a missing tag is
            score = hst.score_learn(by_col[state.hst_cols], score=ready)
        voted = np.zeros(n, dtype=np.bool_)
        if ready:
            any_voted = False
            if score > threshold and state.hst_threshold.warm_one(0):
                absz = np.where(valid & ctx.warm, np.abs(feats.z_value), 0.0)
                top = np.argsort(-absz)[:HST_TOP_TAGS]
                voted[top[absz[top] >= HST_MIN_Z]] = True
                any_voted = bool(voted.any())
            if np.count_nonzero(ctx.warm) and not any_voted:
                state.hst_threshold.observe_one(0, score, threshold)
        scores, thresholds = np.empty(n), np.empty(n)
        scores.fill(score)
        thresholds.fill(threshold)
        return (DetectorResult(name=self.name, score=scores, threshold=thresholds,
                               voted=voted),)


class BaselineVoter:
    """The baseline detector, with the kinds the catalogue (or a rule) forces."""

    name = "baseline"

    def __init__(self, state: VoterState, catalogue: PlantCatalogue) -> None:
        self.state, self.catalogue = state, catalogue

    def vote(self, ctx: ScanContext) -> Sequence[DetectorResult]:
        state = self.state
        state.apply_catalogue(self.catalogue)
        state.baseline.extend(state.forced)
        return (state.baseline.vote(ctx.ts, ctx.feats),)


class ProcessVoter:
    """The process checks (circulation, gas balance) on what the baseline learnt."""

    name = "process"

    def __init__(self, state: VoterState) -> None:
        self.state = state

    def vote(self, ctx: ScanContext) -> Sequence[DetectorResult]:
        s = self.state
        found = s.process.vote(ctx.ts, ctx.feats, s.windows.tags, s.roles, s.baseline)
        return () if found is None else (found,)


class NoveltyVoter:
    """Values never seen, for the tags whose rule gives a novelty warm-up."""

    name = "novelty"

    def __init__(self, state: VoterState) -> None:
        self.state = state

    def vote(self, ctx: ScanContext) -> Sequence[DetectorResult]:
        state, step = self.state, ctx.feats.step
        state.novelty.extend(state.rulebook.novelty_warmup, state.rulebook.novelty_rest)
        if not state.novelty.active:
            return ()
        return (state.novelty.vote(step.idx, step.value, step.valid),)


class RulesVoter:
    """The rules file's limits: one result per kind of rule (range, rate, stuck, ...)."""

    name = "rules"

    def __init__(self, state: VoterState) -> None:
        self.state = state

    def vote(self, ctx: ScanContext) -> Sequence[DetectorResult]:
        state, feats = self.state, ctx.feats
        step, short = feats.step, feats.agg  # the short window's row (0): rates and quality
        idx = step.idx
        rules = state.rulebook.check(
            idx, step.value, step.valid, short.slope_per_s[0], feats.since_change_s,
            state.windows.n_changes[idx] >= 3, short.bad_share[0], samples=short.samples[0],
            min_samples=MIN_SHORT_SAMPLES)
        return tuple(DetectorResult.rule(name, hit) for name, hit in
                     zip(_RULE_RESULTS, rules.values(), strict=True))
