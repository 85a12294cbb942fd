"""Rule checks per tag: physical range, rate of change, stuck value, bad quality.

The rate of change is the least-squares slope over the shortest window (1 minute), not the
difference of two samples. Limits come from :class:`RuleSpec` entries matched by tag pattern
(``fnmatch``, first match wins per field; a field given as ``null`` matches too and turns that
check off). The defaults follow DOMAIN.md sections 2-4; a plant overrides them with a JSON file
(``BIOGAS_AGENTS_RULES_FILE``). A rule scores 1.0 when violated and 0.0 otherwise.

``statistical: false`` keeps a tag away from the statistical detectors (z-score, models,
HalfSpaceTrees): for tags whose normal behaviour is a step or a reset (status bits, counters
that wrap or reset daily, actuators cycling on and off, a feeder's sawtooth), where a step says
nothing about a fault; their rules still apply. ``novelty: true`` turns the novelty detector
on for a tag (:mod:`agents.detectors.novelty`; ``novelty_warmup_scans``, ``novelty_rest_scans``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import numpy.typing as npt
import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agents.detectors.baseline import KINDS
from agents.detectors.vote_kernels import check_rules
from agents.features.windows import F64
from streams.errors import ConfigError

RULE_NAMES: tuple[str, ...] = ("range", "rate", "stuck", "quality")


class RuleSpec(BaseModel):
    """Limits for the tags matching ``pattern``; a field left out is not checked."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pattern: str
    low: float | None = None
    high: float | None = None
    max_rate_per_s: float | None = None
    stuck_after_s: float | None = None
    max_bad_share: float | None = None
    statistical: bool | None = None
    novelty: bool | None = None
    novelty_warmup_scans: Annotated[int, Field(ge=1)] | None = None
    novelty_rest_scans: Annotated[int, Field(ge=0)] | None = None
    kind: Literal["analog", "integrator", "counter", "discrete", "alarm", "ignore"] | None = None


DEFAULT_RULES: tuple[RuleSpec, ...] = (
    # Physical limits of the register map's tags (DOMAIN.md 2); everything else about what is
    # normal is learnt per plant by the baseline detector while the plant is commissioned.
    RuleSpec(pattern="dig*.temp*", low=0.0, high=80.0),
    RuleSpec(pattern="dig*.ph", low=4.0, high=10.0),
    RuleSpec(pattern="gas.ch4", low=0.0, high=100.0),
    RuleSpec(pattern="gas.co2", low=0.0, high=100.0),
    RuleSpec(pattern="gas.o2", low=0.0, high=5.0),
    RuleSpec(pattern="gas.pressure", low=-5.0, high=20.0),
    RuleSpec(pattern="gas.holder_fill", low=0.0, high=100.0),
    RuleSpec(pattern="safety.ch4_lel", high=20.0),
    # Every tag: mostly bad quality over its short window (a stuck value is the baseline
    # detector's: it learns how long each tag stands still normally).
    RuleSpec(pattern="*", max_bad_share=0.5),
)


def load_rules(path: Path | None) -> tuple[RuleSpec, ...]:
    """Rules from a JSON list of :class:`RuleSpec` objects, before the defaults."""
    if path is None:
        return DEFAULT_RULES
    try:
        raw = orjson.loads(path.read_bytes())
        specs = tuple(RuleSpec.model_validate(item) for item in raw)
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the rules file ({exc}); set "
                          "BIOGAS_AGENTS_RULES_FILE to a JSON list of rule objects") from exc
    except (ValidationError, TypeError) as exc:
        raise ConfigError(f"{path}: invalid rule ({exc}); each rule is an object with "
                          "'pattern' and optional low/high/max_rate_per_s/stuck_after_s/"
                          "max_bad_share/statistical/novelty/novelty_warmup_scans/"
                          "novelty_rest_scans/kind") from exc
    return (*specs, *DEFAULT_RULES)


@dataclass(frozen=True)
class TagLimits:
    """Resolved limits of one tag (NaN = not checked)."""

    low: float
    high: float
    max_rate: float
    stuck_after: float
    max_bad: float
    statistical: bool = True
    #: novelty detector: warm-up and rest in samples of the tag (warm-up 0: off)
    novelty_warmup: int = 0
    novelty_rest: int = 0
    #: the kind the baseline detector takes for the tag instead of learning it (None: learn)
    kind: str | None = None


_LIMIT_FIELDS = ("low", "high", "max_rate_per_s", "stuck_after_s", "max_bad_share", "statistical",
                 "novelty", "novelty_warmup_scans", "novelty_rest_scans", "kind")
NOVELTY_WARMUP_SCANS, NOVELTY_REST_SCANS = 750, 250


def resolve(tag: str, rules: Sequence[RuleSpec]) -> TagLimits:
    """The limits of ``tag``: for each field, the first matching rule that sets it (to a
    value, or to null: not checked)."""
    fields: dict[str, float | bool | None] = {}
    for spec in rules:
        if not fnmatch.fnmatchcase(tag, spec.pattern):
            continue
        for name in _LIMIT_FIELDS:
            if name in spec.model_fields_set and name not in fields:
                fields[name] = getattr(spec, name)

    def limit(name: str) -> float:
        value = fields.get(name)
        return float("nan") if value is None else float(value)

    novelty = fields.get("novelty") is True

    def count(name: str, default: int) -> int:
        value = fields.get(name)
        return default if value is None else int(value)

    return TagLimits(low=limit("low"), high=limit("high"), max_rate=limit("max_rate_per_s"),
                     stuck_after=limit("stuck_after_s"), max_bad=limit("max_bad_share"),
                     statistical=fields.get("statistical") is not False,
                     novelty_warmup=count("novelty_warmup_scans", NOVELTY_WARMUP_SCANS)
                     if novelty else 0,
                     novelty_rest=count("novelty_rest_scans", NOVELTY_REST_SCANS),
                     kind=str(fields["kind"]) if fields.get("kind") is not None else None)


class RuleBook:
    """Limits per tag column of a stream, resolved once per new tag."""

    def __init__(self, rules: Sequence[RuleSpec] = DEFAULT_RULES) -> None:
        self.rules = tuple(rules)
        self.limits: F64 = np.zeros((0, 5))
        #: per tag column: whether the statistical detectors judge it
        self.statistical: npt.NDArray[np.bool_] = np.zeros(0, dtype=np.bool_)
        #: the columns they do not judge
        self.non_statistical: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        #: per tag column: the novelty detector's warm-up (0: off) and rest, in samples
        self.novelty_warmup: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self.novelty_rest: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        #: per tag column: the kind a rule gives it (``baseline.KINDS`` index; 0: learn it)
        self.kinds: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)

    def extend(self, tags: Sequence[str]) -> None:
        """Resolve the limits of tags added since the last call (``tags`` is every column)."""
        known = self.limits.shape[0]
        if len(tags) > known:
            new = [resolve(t, self.rules) for t in tags[known:]]
            rows = np.array([[x.low, x.high, x.max_rate, x.stuck_after, x.max_bad]
                             for x in new], dtype=np.float64)
            self.limits = np.vstack([self.limits, rows])
            self.statistical = np.concatenate(
                [self.statistical, np.array([x.statistical for x in new], dtype=np.bool_)])
            self.non_statistical = np.flatnonzero(~self.statistical)
            self.novelty_warmup = np.concatenate(
                [self.novelty_warmup, np.array([x.novelty_warmup for x in new], dtype=np.int64)])
            self.novelty_rest = np.concatenate(
                [self.novelty_rest, np.array([x.novelty_rest for x in new], dtype=np.int64)])
            self.kinds = np.concatenate(
                [self.kinds, np.array([KINDS.index(x.kind) if x.kind else 0 for x in new],
                                      dtype=np.int64)])

    def check(self, idx: npt.NDArray[np.int64], value: F64, valid: npt.NDArray[np.bool_],
              slope_per_s: F64, since_change_s: F64, has_varied: npt.NDArray[np.bool_],
              bad_share: F64, *, samples: F64 | None = None,
              min_samples: float = 0.0) -> dict[str, npt.NDArray[np.bool_]]:
        """Which readings violate each rule (``RULE_NAMES``); the rate and quality rules judge
        a reading only when its short window has ``min_samples`` (``samples``)."""
        n = idx.shape[0]
        out = np.empty((len(RULE_NAMES), n), dtype=np.bool_)
        if samples is None:
            samples, min_samples = np.zeros(n), 0.0
        check_rules(self.limits, idx, value, valid, slope_per_s, since_change_s, has_varied,
                    bad_share, samples, min_samples, out)
        return dict(zip(RULE_NAMES, out, strict=True))
