"""Process checks: what a plant engineer knows about a derived signal that its learnt band
cannot say (see :mod:`agents.features.derived`).

* ``circulation`` (``derived:heating.delta_t``): the 10-minute mean of supply minus return
  below ``CIRCULATION_DT_K`` (0.5 K) on a circuit whose 10-minute mean never came within
  twice that while commissioning: the circuit stopped carrying heat (pump, valve or heat
  source failed; DOMAIN.md 4.1). Its band cannot show it: heating on and off make the
  normal difference bimodal (about 2 K to 20 K here), so 0 K lies inside the band's margin.

Each check decides itself (ratio 2.0 when it holds) and votes alone, named in the anomaly's
explanation as ``<tag>:process.<check>``.
"""

from __future__ import annotations

import numpy as np

from agents.detectors.baseline import UNKNOWN, BaselineBank
from agents.detectors.voting import DetectorResult
from agents.features.derived import HEATING_DT
from agents.features.reading import ReadingFeatures

NAME = "process"
THRESHOLD = 0.5
CIRCULATION_DT_K = 0.5


def process_checks(feats: ReadingFeatures, tags: list[str], baseline: BaselineBank
                   ) -> DetectorResult | None:
    """The process checks of one scan's readings (None when none applies to its tags)."""
    idx = feats.step.idx
    hits = [i for i, col in enumerate(idx.tolist()) if tags[col] == HEATING_DT]
    if not hits:
        return None
    n = idx.shape[0]
    ratio = np.zeros(n)
    labels = [""] * n
    for i in hits:
        col = int(idx[i])
        if col >= baseline.size or baseline.kind[col] == UNKNOWN:
            continue  # still commissioning
        learnt_low = float(baseline.lo[col, 1])
        mean_10m = float(feats.agg.mean[1, i])
        if learnt_low > 2 * CIRCULATION_DT_K and abs(mean_10m) < CIRCULATION_DT_K:
            ratio[i], labels[i] = 2.0, "circulation"
    return DetectorResult(name=NAME, score=ratio / (1.0 + ratio), threshold=np.full(n, THRESHOLD),
                          voted=ratio > 1.0, alone=True, measure=ratio, measure_name="ratio",
                          labels=tuple(labels))
