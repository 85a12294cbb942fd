"""Simulator scenarios through the online detector path, scored against their fault labels.

The plant runs offline (:class:`simulator.engine.Simulation`, no Modbus) for a lead-in of
normal operation (so the detectors are warm when the first fault starts; the fault schedule is
shifted by it), then the scenario. Each simulated step is one scan of every tag. Link faults
act on the Modbus server only, so they cannot occur offline and are not scored.

* A fault is **detected** when a scan between its start and its end plus ``grace_s`` is flagged;
  the delay is from its start to the first such scan.
* A **false alert** is an alert the alert agent would open for a flag outside every fault's
  ``[start, end + grace_s]``: per tag, a flag opens one unless the tag's previous flag was less
  than ``CLEAR_AFTER_S + HOLDOFF_S`` before (the agent's clear hysteresis and flap hold-off).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from evaluation.replay import ReplayOptions, ReplayResult, TableReplay
from simulator.engine import Simulation
from simulator.scenario import Scenario

CLEAR_AFTER_S = 300.0  # BIOGAS_AGENTS_ALERT_CLEAR_AFTER_S default
HOLDOFF_S = 600.0  # BIOGAS_AGENTS_ALERT_HOLDOFF_S default
SCORED_FAMILIES = ("process", "sensor")


@dataclass(frozen=True)
class FaultOutcome:
    kind: str
    family: str
    target: str
    start_s: float
    end_s: float
    delay_s: float | None  # None: missed


@dataclass(frozen=True)
class SimRun:
    scenario: str
    days: float
    faults: tuple[FaultOutcome, ...]
    false_alerts: int
    unscored: tuple[str, ...]  # link faults, which need the Modbus server


def shifted(scenario: Scenario, lead_in_h: float, duration_h: float) -> Scenario:
    """The scenario with its faults moved ``lead_in_h`` later and the given total duration."""
    faults = tuple(f.model_copy(update={"start_h": f.start_h + lead_in_h})
                   for f in scenario.faults)
    header = scenario.scenario.model_copy(update={"duration_h": duration_h + lead_in_h})
    return scenario.model_copy(update={"faults": faults, "scenario": header})


def _seconds(stamp: str, origin: datetime) -> float:
    return (datetime.fromisoformat(stamp) - origin).total_seconds()


def run_scenario(scenario: Scenario, options: ReplayOptions, *, lead_in_h: float = 24.0,
                 duration_h: float | None = None, grace_s: float = 3600.0,
                 advance: Callable[[int], object] | None = None) -> SimRun:
    """Simulate, replay every step through the detector path, and score against the labels."""
    hours = duration_h or scenario.scenario.duration_h or scenario.scenario.repeat_h or 24.0
    run = shifted(scenario, lead_in_h, hours)
    sim = Simulation(run)
    step = run.scenario.step_s
    steps = sim.run((hours + lead_in_h) * 3600.0, step)
    tags = sorted(steps[0][1])
    values = np.array([[row.get(t, np.nan) for t in tags] for _, row in steps], dtype=np.float64)
    elapsed = np.array([e for e, _ in steps])
    origin = sim.start
    times = origin.timestamp() + elapsed
    result = TableReplay(tags, options).run(times, values, advance)
    return score_run(run.scenario.name, sim.labels.written, elapsed, result,
                     (hours + lead_in_h) / 24.0, origin, grace_s)


def score_run(name: str, labels: list[dict[str, object]], elapsed: np.ndarray,
              result: ReplayResult, days: float, origin: datetime, grace_s: float) -> SimRun:
    outcomes: list[FaultOutcome] = []
    unscored: list[str] = []
    explained = np.zeros(len(elapsed), dtype=np.bool_)
    for label in labels:
        start = _seconds(str(label["start"]), origin)
        end = _seconds(str(label["end"]), origin)
        inside = (elapsed >= start) & (elapsed <= end + grace_s)
        explained |= inside
        family = str(label["family"])
        if family not in SCORED_FAMILIES:
            unscored.append(str(label["kind"]))
            continue
        hits = np.flatnonzero(inside & result.flags)
        delay = float(elapsed[hits[0]] - start) if len(hits) else None
        outcomes.append(FaultOutcome(str(label["kind"]), family, str(label["target"]),
                                     start, end, delay))
    last_flag: dict[str, float] = {}
    false_alerts = 0
    for i in np.flatnonzero(result.flags):
        t = float(elapsed[i])
        for tag in result.tags[i]:
            previous = last_flag.get(tag)
            if not explained[i] and (previous is None
                                     or t - previous > CLEAR_AFTER_S + HOLDOFF_S):
                false_alerts += 1
            last_flag[tag] = t
    return SimRun(name, days, tuple(outcomes), false_alerts, tuple(unscored))

