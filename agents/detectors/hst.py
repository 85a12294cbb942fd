"""River's HalfSpaceTrees as an online detector over a whole scan.

One sample per scan: each tag's z-score squashed into [0, 1] (``0.5 + 0.5 tanh(z / 4)``), so
HST sees the joint state of the poll group; it scores before it learns. River's trees are pure
Python (about 100 µs per scan with 10 trees here), which is why they run once per scan and not
once per reading. The state snapshot keeps the node masses; the trees themselves are rebuilt
from the seed and the feature names, which River builds deterministically.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from river.anomaly import HalfSpaceTrees

from agents.errors import StateError
from agents.features.windows import F64


def squash(z: F64) -> F64:
    """z-scores into [0, 1], 0.5 at zero."""
    out: F64 = 0.5 + 0.5 * np.tanh(z / 4.0)
    return out


class HalfSpaceTreesDetector:
    """River HalfSpaceTrees behind the detector protocol, with a snapshot of its masses."""

    name = "hst"

    def __init__(self, *, n_trees: int = 10, height: int = 8, window_size: int = 250,
                 seed: int = 7) -> None:
        self.params = {"n_trees": n_trees, "height": height, "window_size": window_size,
                       "seed": seed}
        self.model = HalfSpaceTrees(n_trees=n_trees, height=height, window_size=window_size,
                                    seed=seed)
        self.features: list[str] | None = None
        self.learned = 0

    def learn_one(self, x: Mapping[str, float]) -> None:
        if self.features is None:
            self.features = sorted(x)
        self.model.learn_one(dict(x))  # type: ignore[no-untyped-call]
        self.learned += 1

    def score_one(self, x: Mapping[str, float]) -> float:
        return float(self.model.score_one(dict(x)))  # type: ignore[no-untyped-call]

    def _nodes(self) -> list[list[Any]]:
        return [list(tree.iter_dfs())  # type: ignore[no-untyped-call]
                for tree in self.model.trees]

    def to_parts(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        """Metadata and mass arrays (``n_trees x n_nodes``, depth-first order)."""
        nodes = self._nodes()
        meta = {"params": self.params, "features": self.features, "learned": self.learned,
                "counter": self.model.counter, "first_window": self.model._first_window}
        arrays: dict[str, npt.NDArray[Any]] = {}
        if nodes:
            arrays["hst.l_mass"] = np.array([[n.l_mass for n in t] for t in nodes], np.float64)
            arrays["hst.r_mass"] = np.array([[n.r_mass for n in t] for t in nodes], np.float64)
        return meta, arrays

    @classmethod
    def from_parts(cls, meta: Mapping[str, Any],
                   arrays: Mapping[str, npt.NDArray[Any]]) -> HalfSpaceTreesDetector:
        """Rebuild a detector written by :meth:`to_parts`."""
        det = cls(**meta["params"])
        features = meta["features"]
        if features is None:
            return det
        det.learn_one({f: 0.5 for f in features})
        nodes = det._nodes()
        l_mass, r_mass = arrays["hst.l_mass"], arrays["hst.r_mass"]
        if l_mass.shape != (len(nodes), len(nodes[0])):
            raise StateError(f"HST snapshot has masses of shape {l_mass.shape}, the rebuilt "
                             f"trees have {(len(nodes), len(nodes[0]))}")
        for t, tree_nodes in enumerate(nodes):
            for i, node in enumerate(tree_nodes):
                node.l_mass = float(l_mass[t, i])
                node.r_mass = float(r_mass[t, i])
        det.model.counter = int(meta["counter"])
        det.model._first_window = bool(meta["first_window"])
        det.learned = int(meta["learned"])
        return det
