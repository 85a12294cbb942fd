"""The synchronous simulation: plant + fault schedule + labels, advanced in simulated time.
No I/O besides the label file; the async runner and the tests both drive this."""

from __future__ import annotations

from datetime import datetime

from simulator.faults import ActiveFault, LinkState, apply_process, apply_sensor, link_state
from simulator.labels import LabelWriter, label_for
from simulator.plant import Plant
from simulator.scenario import Scenario
from simulator.tags import plant_tags


class Simulation:
    """Advance with :meth:`advance`; read the latest tag values from :attr:`values`."""

    def __init__(self, scenario: Scenario, *, seed: int | None = None,
                 labels: LabelWriter | None = None) -> None:
        self.scenario = scenario
        hdr = scenario.scenario
        self.seed = hdr.seed if seed is None else seed
        self.start: datetime = hdr.start
        self.plant = Plant(scenario.plant, seed=self.seed, start=hdr.start)
        self._base = [(spec.family, spec) for spec in scenario.faults]
        self._period_s = hdr.repeat_h * 3600.0 if hdr.repeat_h else None
        self._cycle = 0
        self.faults: list[tuple[str, ActiveFault]] = [
            (family, spec.to_active()) for family, spec in self._base]
        self.labels = labels or LabelWriter(None)
        self.values: dict[str, float] = plant_tags(self.plant)

    @property
    def elapsed_s(self) -> float:
        return self.plant.elapsed_s

    @property
    def now(self) -> datetime:
        return self.plant.now

    def _active(self) -> list[ActiveFault]:
        return [f for _, f in self.faults]

    def _repeat_schedule(self, until_s: float) -> None:
        """With ``repeat_h``, append the next cycle's faults before it begins; finished
        faults of past cycles are dropped."""
        if self._period_s is None:
            return
        while until_s >= self._cycle * self._period_s:
            self._cycle += 1
            offset = self._cycle * self._period_s
            for family, spec in self._base:
                f = spec.to_active()
                f.start_s += offset
                f.end_s += offset
                self.faults.append((family, f))
        horizon = until_s - self._period_s
        self.faults = [(fam, f) for fam, f in self.faults
                       if f.end_s > horizon or not f.labelled]

    def advance(self, dt_s: float) -> dict[str, float]:
        """Advance by ``dt_s`` simulated seconds (process faults re-evaluated per sub-step of
        at most ``max_substep_s``); returns the tag values after sensor faults."""
        self._repeat_schedule(self.plant.elapsed_s + dt_s)
        remaining = dt_s
        faults = self._active()
        limit = self.plant.cfg.max_substep_s
        while remaining > 1e-9:
            h = min(remaining, limit)
            apply_process(self.plant.dist, faults, self.plant.elapsed_s)
            self.plant.advance(h)
            remaining -= h
        t = self.plant.elapsed_s
        for family, f in self.faults:
            if not f.labelled and f.start_s <= t:
                f.labelled = True
                self.labels.write(label_for(f, family, self.start))
        values = plant_tags(self.plant)
        apply_sensor(values, faults, t, self.plant.noise)
        self.values = values
        return values

    def link(self, device: str) -> LinkState:
        """Link faults of ``device`` at the current simulated time."""
        return link_state(device, self._active(), self.plant.elapsed_s)

    def run(self, duration_s: float, step_s: float) -> list[tuple[float, dict[str, float]]]:
        """Advance ``duration_s`` in steps of ``step_s``; returns (elapsed_s, values) per step."""
        out = []
        n = max(round(duration_s / step_s), 1)
        for _ in range(n):
            out.append((self.plant.elapsed_s + step_s, self.advance(step_s)))
        return out
