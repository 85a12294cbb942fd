"""Everything the detector agent remembers about one scan stream (plant, device, poll group).

Rolling windows, rule limits, adaptive thresholds, the HST model, the last applied
``(edge_boot_id, seq)`` (so a replayed scan is skipped) and when features were last published.
Snapshots go to a Faust table's changelog as bytes (see :mod:`agents.state_codec`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from agents.detectors.baseline import BaselineBank, BaselineConfig
from agents.detectors.contract import ScanContext, ScanDetector
from agents.detectors.deployed import DeployedModel
from agents.detectors.envelope_track import EnvelopeTrack
from agents.detectors.hst import HalfSpaceTreesDetector
from agents.detectors.novelty import NoveltyBank
from agents.detectors.process import GasBalance, ProcessChecks
from agents.detectors.rules import RuleBook, RuleSpec
from agents.detectors.thresholds import QuantileThresholds
from agents.detectors.voting import Verdict, vote
from agents.errors import StateError
from agents.features.derived import Derivation
from agents.features.reading import ReadingFeatures
from agents.features.windows import TagWindows, windows_from_parts, windows_to_parts
from agents.shadow import ShadowTally
from agents.state_codec import pack, unpack
from agents.stream_detectors import (
    BaselineVoter,
    HstVoter,
    ModelVoter,
    NoveltyVoter,
    ProcessVoter,
    RulesVoter,
    ZScoreVoter,
)
from agents.tag_catalogue import EMPTY, PlantCatalogue

PERIOD_SCANS = 16  # scan intervals averaged for the sampling period
SHADOW_PREFIX = "shadow:"


@dataclass(frozen=True)
class DetectionConfig:
    """The knobs of detection and voting (from :class:`agents.settings.AgentsSettings`).

    By default the baseline detector (learnt while the plant is commissioned) and the rules
    judge every tag; ``statistical`` adds the per-reading statistical family (z-score and
    HalfSpaceTrees on adaptive thresholds, ``warmup`` ... ``hst_window``); ``baseline=None``
    turns the baseline detector off. Deployed models vote whenever they are deployed."""

    warmup: int = 300
    min_votes: int = 2
    quantile: float = 0.999
    margin: float = 0.3
    hst_trees: int = 10
    hst_height: int = 8
    hst_window: int = 250
    statistical: bool = False
    baseline: BaselineConfig | None = field(default_factory=BaselineConfig)


class StreamState:
    """The detector agent's state for one stream."""

    def __init__(self, config: DetectionConfig, rules: tuple[RuleSpec, ...]) -> None:
        self.config = config
        #: the stream's sampling period, once PERIOD_SCANS intervals have been seen
        self.period_s: float | None = None
        self._period_start: tuple[float, int] | None = None
        self.windows = TagWindows()
        self.rulebook = RuleBook(rules)
        self.novelty = NoveltyBank()
        self.baseline = BaselineBank(config.baseline)
        self.process = ProcessChecks()
        self.thresholds = {"zscore": self.new_thresholds()}
        #: model id -> sha256 of the model whose scores its thresholds learnt
        self.model_sha: dict[str, str | None] = {}
        #: envelope model id (``shadow:<id>`` for a shadow) -> its rolling window and peak
        self.envelopes: dict[str, EnvelopeTrack] = {}
        #: shadow model id -> the current window's comparison
        self.shadows: dict[str, ShadowTally] = {}
        self.hst_threshold = QuantileThresholds(quantile=config.quantile, margin=config.margin,
                                                floor=0.5, warmup=config.warmup, bins=1000,
                                                capacity=1)
        self.hst = HalfSpaceTreesDetector(n_trees=config.hst_trees, height=config.hst_height,
                                          window_size=config.hst_window)
        #: windows column of each HST feature (built with the trees)
        self.hst_cols: npt.NDArray[np.int64] | None = None
        self.boot_id: str | None = None
        self.seq = -1
        self.next_emit_ts = float("-inf")
        #: the catalogue the columns' kinds and roles were last taken from, and for how many
        self._catalogue: PlantCatalogue | None = None
        self._catalogued = 0
        #: per column: its role (catalogue) and the kind the baseline detector must take
        self.roles: list[str | None] = []
        self.forced: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._derivation: tuple[list[str], PlantCatalogue, Derivation] | None = None

    def new_thresholds(self) -> QuantileThresholds:
        """Per-tag adaptive thresholds with the stream's settings and sampling period."""
        c = self.config
        thresholds = QuantileThresholds(quantile=c.quantile, margin=c.margin, floor=0.5,
                                        warmup=c.warmup)
        if self.period_s is not None:
            thresholds.set_period(self.period_s)
        return thresholds

    def _note_time(self, ts: float) -> None:
        """Learn the sampling period (mean interval of the first PERIOD_SCANS scans) and
        hand it to the thresholds, whose learning rates are per second."""
        if self._period_start is None:
            self._period_start = (ts, 0)
            return
        start, n = self._period_start
        self._period_start = (start, n + 1)
        if n + 1 == PERIOD_SCANS and ts > start:
            self.set_period(min(max((ts - start) / PERIOD_SCANS, 0.001), 3600.0))

    def set_period(self, seconds: float) -> None:
        self.period_s = seconds
        for thresholds in (*self.thresholds.values(), self.hst_threshold):
            thresholds.set_period(seconds)

    def already_applied(self, boot_id: str, seq: int) -> bool:
        return boot_id == self.boot_id and seq <= self.seq

    def mark_applied(self, boot_id: str, seq: int) -> None:
        self.boot_id, self.seq = boot_id, seq

    def _eligible(self, feats: ReadingFeatures) -> tuple[npt.NDArray[np.bool_],
                                                         npt.NDArray[np.bool_]]:
        """Warm readings, and warm valid ones: a cold, invalid or non-statistical reading
        neither votes nor is learnt."""
        idx = feats.step.idx
        warm = (self.windows.n_seen[idx] >= self.config.warmup) & self.rulebook.statistical[idx]
        return warm, warm & feats.step.valid

    def shadow_verdict(self, model: DeployedModel, feats: ReadingFeatures,
                       live: Verdict) -> Verdict:
        """The vote with a shadow ``model`` in place of the live model of its id (after
        :meth:`detect` of the same scan, whose other results it reuses)."""
        warm, eligible = self._eligible(feats)
        ctx = ScanContext(ts=float("nan"), feats=feats, warm=warm, eligible=eligible)
        result = ModelVoter(self, model, SHADOW_PREFIX + model.name).vote(ctx)
        others = [r for r in live.results if r.name != model.name]
        return vote([*others, *result], self.config.min_votes)

    def forget_shadow(self, model_id: str) -> None:
        """Drop the state of a shadow that ended."""
        key = SHADOW_PREFIX + model_id
        self.shadows.pop(model_id, None)
        self.thresholds.pop(key, None)
        self.model_sha.pop(key, None)
        self.envelopes.pop(key, None)

    def derivation(self, tags: list[str], catalogue: PlantCatalogue) -> Derivation:
        """The derived signals of a scan with these tags (kept while tags and catalogue stay)."""
        found = self._derivation
        if found is None or found[0] != tags or found[1] is not catalogue:
            found = self._derivation = (list(tags), catalogue,
                                        Derivation(catalogue.roles(tags)))
        return found[2]

    def apply_catalogue(self, catalogue: PlantCatalogue) -> None:
        """Columns' roles and forced kinds: a rule's kind first, then the catalogue's."""
        tags = self.windows.tags
        if catalogue is self._catalogue and len(tags) == self._catalogued:
            return
        self._catalogue, self._catalogued = catalogue, len(tags)
        self.roles = catalogue.roles(tags)
        rules = self.rulebook.kinds
        self.forced = np.where(rules != 0, rules, catalogue.kinds(tags))

    def detectors(self, models: list[DeployedModel],
                  catalogue: PlantCatalogue = EMPTY) -> list[ScanDetector]:
        """Every detector the stream runs on a scan, in voting order: the z-score family
        (``statistical``), the deployed ``models``, HalfSpaceTrees (``statistical``), the
        baseline and process checks (unless ``baseline`` is off), novelty and the rules."""
        statistical = self.config.statistical
        found: list[ScanDetector] = [ZScoreVoter(self)] if statistical else []
        found.extend(ModelVoter(self, model, model.name) for model in models)
        if statistical:
            found.append(HstVoter(self))
        if self.config.baseline is not None:
            found.extend((BaselineVoter(self, catalogue), ProcessVoter(self)))
        found.extend((NoveltyVoter(self), RulesVoter(self)))
        return found

    def context(self, ts: float, feats: ReadingFeatures) -> ScanContext:
        """What every detector sees of the scan at ``ts`` (its features just computed)."""
        if self.period_s is None:
            self._note_time(ts)
        self.rulebook.extend(self.windows.tags)
        warm, eligible = self._eligible(feats)
        return ScanContext(ts=ts, feats=feats, warm=warm, eligible=eligible)

    def detect(self, ts: float, feats: ReadingFeatures, models: list[DeployedModel],
               catalogue: PlantCatalogue = EMPTY) -> Verdict:
        """Run every detector on the readings of the scan (at ``ts``) just added to the
        windows (``catalogue``: the plant's tag kinds and roles) and vote."""
        ctx = self.context(ts, feats)
        results = [r for detector in self.detectors(models, catalogue)
                   for r in detector.vote(ctx)]
        return vote(results, self.config.min_votes)

    def to_bytes(self) -> bytes:
        w_meta, arrays = windows_to_parts(self.windows)
        h_meta, h_arrays = self.hst.to_parts()
        arrays.update(h_arrays)
        n_meta, n_arrays = self.novelty.to_parts()
        arrays.update(n_arrays)
        b_meta, b_arrays = self.baseline.to_parts()
        arrays.update(b_arrays)
        for name, thr in self.thresholds.items():
            arrays.update(thr.to_arrays(f"thr.{name}"))
        arrays.update(self.hst_threshold.to_arrays("thr.hst"))
        envelopes = {}
        for name, track in self.envelopes.items():
            e_meta, e_arrays = track.to_parts(f"env.{name}")
            envelopes[name] = e_meta
            arrays.update(e_arrays)
        meta: dict[str, Any] = {"v": 1, "windows": w_meta, "hst": h_meta,
                                "boot_id": self.boot_id, "seq": self.seq,
                                "model_sha": self.model_sha,
                                "thresholds": sorted(self.thresholds),
                                "next_emit_ts": None if self.next_emit_ts == float("-inf")
                                else self.next_emit_ts,
                                "period_s": self.period_s, "envelopes": envelopes,
                                "shadows": {k: t.to_meta() for k, t in self.shadows.items()},
                                "novelty": n_meta, "baseline": b_meta,
                                "gas_balance": self.process.balance.to_meta()}
        return pack(meta, arrays)

    @classmethod
    def from_bytes(cls, data: bytes, config: DetectionConfig,
                   rules: tuple[RuleSpec, ...]) -> StreamState:
        """The state written by :meth:`to_bytes`; :class:`StateError` when unreadable."""
        try:
            return cls._from_bytes(data, config, rules)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise StateError(f"stream state snapshot is unreadable: {exc!r}") from exc

    @classmethod
    def _from_bytes(cls, data: bytes, config: DetectionConfig,
                    rules: tuple[RuleSpec, ...]) -> StreamState:
        meta, arrays = unpack(data)
        state = cls(config, rules)
        state.windows = windows_from_parts(meta["windows"], arrays)
        state.hst = HalfSpaceTreesDetector.from_parts(meta["hst"], arrays)
        state.thresholds = {name: state.new_thresholds() for name in meta["thresholds"]}
        for name, thr in state.thresholds.items():
            thr.load_arrays(f"thr.{name}", arrays)
        state.hst_threshold.load_arrays("thr.hst", arrays)
        state.boot_id, state.seq = meta["boot_id"], int(meta["seq"])
        state.model_sha = dict(meta["model_sha"])
        emit = meta["next_emit_ts"]
        state.next_emit_ts = float("-inf") if emit is None else float(emit)
        state.envelopes = {name: EnvelopeTrack.from_parts(e_meta, arrays, f"env.{name}")
                           for name, e_meta in meta.get("envelopes", {}).items()}
        if "novelty" in meta:
            state.novelty = NoveltyBank.from_parts(meta["novelty"], arrays)
        if "baseline" in meta:  # older snapshots: the tags are commissioned from now on
            state.baseline = BaselineBank.from_parts(meta["baseline"], arrays, config.baseline)
        if "gas_balance" in meta:
            state.process.balance = GasBalance.from_meta(meta["gas_balance"])
        state.shadows = {name: ShadowTally.from_meta(t_meta)
                         for name, t_meta in meta.get("shadows", {}).items()}
        if meta.get("period_s") is not None:  # older snapshots: learnt again from new scans
            state.set_period(float(meta["period_s"]))
        return state
