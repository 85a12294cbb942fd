"""Simulator scenarios through the online detector path, scored against their fault labels.

The plant runs offline (:class:`simulator.engine.Simulation`, no Modbus) for a lead-in of
normal operation (the commissioning period in which the detectors learn the plant; the fault
schedule is shifted by it), then the scenario. Each simulated step is one scan of every tag
the plant has, under the plant's own tag names (``[plant.naming]``). Link faults act on the
Modbus server only, so they cannot occur offline and are not scored.

Scoring is in :mod:`evaluation.sim_scoring`. The suites of the repository are the scenario
folders ``simulator/scenarios/tuning`` (constants and rules may be chosen on these) and
``simulator/scenarios/evaluation`` (reported, never tuned on; it holds a plant whose scenarios
are used nowhere else).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from agents.detectors.subspace import SubspaceDetector
from agents.stream_state import DetectionConfig
from evaluation.baselines import BASELINES, PcaStatistics, pca_flags, pca_statistics, run_baseline
from evaluation.replay import PLANT_ID, ReplayOptions, TableReplay
from evaluation.sim_recovery import recovered_at
from evaluation.sim_scoring import BoolArray, RunData, SimRun, score
from evaluation.skab_runner import MODELS_ONLY
from modelops.export.subspace import export_subspace, fit_subspace
from simulator.catalogue import plant_catalogue
from simulator.engine import Simulation
from simulator.scenario import Scenario, list_scenarios, load_scenario
from simulator.tags import build_tags
from streams.events import TagKind

SPLITS = ("tuning", "evaluation")
#: Normal operation before a scenario's own timeline: the detectors' commissioning period.
LEAD_IN_H = 96.0
#: the rows of the subspace model (fitted on the lead-in rows, alone) and of PCA T²/SPE at
#: its time in alarm
SUBSPACE = "subspace model"
PCA_AT_SUBSPACE = "PCA T²/SPE at its rate"


@dataclass(frozen=True)
class SimResult:
    """One scenario: the detector path's score and each baseline's, on the same rows."""

    ours: SimRun
    baselines: dict[str, SimRun]


@dataclass(frozen=True)
class SuiteEntry:
    split: str
    name: str
    scenario: Scenario


def suite(split: str) -> list[SuiteEntry]:
    """The scenarios of one split of the repository's detection suite."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {SPLITS}")
    return [SuiteEntry(split, name, load_scenario(name)) for name in list_scenarios(split)]


def shifted(scenario: Scenario, lead_in_h: float, duration_h: float) -> Scenario:
    """The scenario with its faults moved ``lead_in_h`` later and the given total duration."""
    faults = tuple(f.model_copy(update={"start_h": f.start_h + lead_in_h})
                   for f in scenario.faults)
    header = scenario.scenario.model_copy(update={"duration_h": duration_h + lead_in_h})
    return scenario.model_copy(update={"faults": faults, "scenario": header})


def scan_count(scenario: Scenario, lead_in_h: float = LEAD_IN_H,
               duration_h: float | None = None) -> int:
    """Rows a run replays (for a progress bar)."""
    hours = duration_h or scenario.scenario.duration_h or scenario.scenario.repeat_h or 24.0
    return round((hours + lead_in_h) * 3600.0 / scenario.scenario.step_s)


def run_scenario(scenario: Scenario, options: ReplayOptions, *, split: str = "",
                 lead_in_h: float = LEAD_IN_H, duration_h: float | None = None,
                 advance: Callable[[int], object] | None = None,
                 baselines: tuple[str, ...] = BASELINES,
                 with_catalogue: bool = True, subspace: bool = False) -> SimResult:
    """Simulate, replay every step through the detector path, and score it and the baselines
    (fitted on the lead-in rows) against the labels. ``with_catalogue``: the replay starts
    with the plant's tag catalogue (kinds and roles, as its edge configuration gives them).
    ``subspace``: also a subspace model fitted on the lead-in rows, replayed alone
    (:data:`SUBSPACE`), and PCA T²/SPE with its limits moved until it stands in alarm as
    long as the model outside faults (:data:`PCA_AT_SUBSPACE`)."""
    hours = duration_h or scenario.scenario.duration_h or scenario.scenario.repeat_h or 24.0
    run = shifted(scenario, lead_in_h, hours)
    name = run.scenario.name
    sim = Simulation(run)
    naming = run.plant.naming
    step = run.scenario.step_s
    n = scan_count(scenario, lead_in_h, duration_h)
    names = naming.table(sim.values)  # canonical -> plant name
    canonical = sorted(names, key=names.__getitem__)
    tags = [names[t] for t in canonical]
    values = np.empty((n, len(tags)))
    every = sorted(sim.values)  # the plant's true state, whatever its sensors
    truth = np.empty((n, len(every)))
    elapsed = np.empty(n)
    ph = np.empty(n)
    for i in range(n):
        row = sim.advance(step)
        values[i] = [row.get(t, np.nan) for t in canonical]
        true = build_tags(sim.plant)
        truth[i] = [true.get(t, np.nan) for t in every]
        elapsed[i] = sim.elapsed_s
        ph[i] = sim.plant.out.ph
    origin = sim.start
    every_kind = plant_catalogue(PLANT_ID, naming, canonical,
                                 uuid.uuid5(uuid.NAMESPACE_URL, name), origin)
    catalogue = every_kind if with_catalogue else None
    result = TableReplay(tags, options, catalogue=catalogue).run(origin.timestamp() + elapsed,
                                                                 values, advance)
    scored_from = lead_in_h * 3600.0
    plant, labels = run.plant.name, sim.labels.written
    t0 = origin.timestamp()
    back = recovered_at(labels, origin, every, truth, elapsed, scored_from)
    data = RunData(elapsed=elapsed, flags=result.flags, tags=result.tags, ph=ph,
                   scored_from_s=scored_from,
                   incidents=tuple((a - t0, b - t0, c) for a, b, c in result.incidents),
                   recovered_s=back)
    ours = score(name, plant, split, labels, data, origin, naming.name)
    train = values[elapsed <= scored_from]
    scored: dict[str, SimRun] = {}

    def scored_flags(flags: BoolArray, named: tuple[tuple[str, ...], ...]) -> SimRun:
        return score(name, plant, split, labels,
                     RunData(elapsed=elapsed, flags=flags, tags=named, ph=ph,
                             scored_from_s=scored_from, recovered_s=back),
                     origin, naming.name)

    for baseline in baselines:
        found = run_baseline(baseline, tags, train, values)
        scored[baseline] = scored_flags(found.flags, found.tags)
    if subspace:
        # counters (totalisers, hours) only ever grow: no model of normal holds them
        kinds = {spec.tag: spec.kind for spec in every_kind.tags}
        modelled = [j for j, tag in enumerate(tags) if kinds.get(tag) != TagKind.COUNTER]
        model_tags = [tags[j] for j in modelled]
        fit = fit_subspace(train[:, modelled], model_tags)
        model = SubspaceDetector(export_subspace(fit), name="subspace")
        alone = ReplayOptions(config=DetectionConfig(baseline=None), rules=MODELS_ONLY)
        replayed = TableReplay(model_tags, alone, [model]).run(origin.timestamp() + elapsed,
                                                                values[:, modelled])
        scored[SUBSPACE] = model_run = scored_flags(replayed.flags, replayed.tags)
        scored[PCA_AT_SUBSPACE] = _pca_at_rate(pca_statistics(train, values), tags,
                                               model_run.alarm_s, scored_flags)
    return SimResult(ours, scored)


def _pca_at_rate(stats: PcaStatistics, tags: list[str], alarm_s: float,
                 scored: Callable[[BoolArray, tuple[tuple[str, ...], ...]], SimRun]) -> SimRun:
    """PCA T²/SPE with its limits scaled (bisection in log space) until its time in alarm
    outside faults is at most ``alarm_s``: the baseline at the model's false-alarm cost."""
    lo, hi = 0.0, 12.0  # log2 of the scale
    best: SimRun | None = None
    for _ in range(16):
        mid = (lo + hi) / 2
        found = pca_flags(stats, tags, 2.0 ** mid)
        run = scored(found.flags, found.tags)
        if run.alarm_s <= alarm_s:
            best, hi = run, mid
        else:
            lo = mid
    if best is None:
        found = pca_flags(stats, tags, 2.0 ** hi)
        best = scored(found.flags, found.tags)
    return best
