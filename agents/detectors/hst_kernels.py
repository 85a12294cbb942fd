"""Compiled walk of :class:`agents.detectors.hst.HalfSpaceTreesDetector`: score one sample on
every tree (River's walk and early stop) and/or learn it (left masses along the path)."""

from __future__ import annotations

import math

from agents.jit import Arr, kernel


@kernel
def score_learn(x: Arr, split_feature: Arr, split_at: Arr, l_mass: Arr, stop: Arr,
                summed: Arr, height: int, scoring: bool, learning: bool, path: Arr) -> float:
    """Walk ``x`` (NaN = missing: the child with the heavier left mass) down every tree, sum
    each tree's ``summed`` at the first node of its path where ``stop`` holds (when
    ``scoring``), then (when ``learning``) add one to the left mass of every node on the
    paths. Returns the sum
    (0.0 when not scoring); ``path`` is scratch space of ``height + 1`` entries."""
    total = 0.0
    for t in range(split_feature.shape[0]):
        node = 0
        path[0] = 0
        for d in range(height):
            v = x[split_feature[t, node]]
            if math.isnan(v):
                right = l_mass[t, 2 * node + 1] < l_mass[t, 2 * node + 2]
            else:
                right = v >= split_at[t, node]  # River goes left when value < threshold
            node = 2 * node + 1 + (1 if right else 0)
            path[d + 1] = node
        if scoring:
            for d in range(height + 1):
                if stop[t, path[d]]:
                    total += summed[t, path[d]]
                    break
        if learning:
            for d in range(height + 1):
                l_mass[t, path[d]] += 1.0
    return total
