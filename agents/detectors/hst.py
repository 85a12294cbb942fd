"""River's HalfSpaceTrees as an online detector over a whole scan, walked by a compiled kernel.

One sample per scan: each tag's z-score squashed into [0, 1] (``0.5 + 0.5 tanh(z / 4)``), so
HST sees the joint state of the poll group; it scores before it learns. The trees are River's
(``river.anomaly.HalfSpaceTrees`` builds them from the seed and the sorted feature names); their
splits are copied into arrays in heap order (node ``h`` has children ``2h + 1`` and ``2h + 2``)
and the masses live in arrays, so one scan is one compiled loop over all trees
(:mod:`agents.detectors.hst_kernels`) instead of a Python walk per tree. The walk, the early
stop of the score below ``0.1 * window_size``, the choice of the heavier child for a missing
feature and the mass pivot every ``window_size``
samples are River's; masses are whole numbers, so the scores are River's exactly.

A scan's score and its learning follow the same path: scoring reads the masses before the
sample is learnt, and a missing feature's choice compares the children's left masses, which the
learning walk has not changed yet when it reaches their parent.

The state snapshot keeps the node masses in depth-first order (River's ``iter_dfs``); the trees
themselves are rebuilt from the seed and the feature names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from river.anomaly import HalfSpaceTrees
from river.tree.padded import PaddedBranch

from agents.detectors.hst_kernels import score_learn as walk
from agents.errors import StateError
from agents.features.windows import F64, I64, BoolArray


def squash(z: F64) -> F64:
    """z-scores into [0, 1], 0.5 at zero."""
    out: F64 = 0.5 + 0.5 * np.tanh(z / 4.0)
    return out


class HalfSpaceTreesDetector:
    """River's HalfSpaceTrees behind the detector protocol, with a snapshot of its masses."""

    name = "hst"

    def __init__(self, *, n_trees: int = 10, height: int = 8, window_size: int = 250,
                 seed: int = 7) -> None:
        self.params = {"n_trees": n_trees, "height": height, "window_size": window_size,
                       "seed": seed}
        self.n_trees, self.height, self.window_size = n_trees, height, window_size
        self.features: list[str] | None = None
        self.learned = 0
        self.counter = 0
        self.first_window = True
        n_nodes = 2 ** (height + 1) - 1
        self._max_score = float(n_trees * window_size * n_nodes)  # River's ``_max_score``
        self.n_inner = 2 ** height - 1
        self.l_mass: F64 = np.zeros((n_trees, n_nodes))
        self.r_mass: F64 = np.zeros((n_trees, n_nodes))
        # Splits of the inner nodes in heap order.
        self._split_feature: I64 = np.zeros((n_trees, self.n_inner), dtype=np.int64)
        self._split_at: F64 = np.zeros((n_trees, self.n_inner))
        self._dfs: I64 = np.zeros(0, dtype=np.int64)  # heap index of each depth-first node
        self._depth_pow: F64 = np.array([2.0 ** ((h + 1).bit_length() - 1)
                                         for h in range(n_nodes)])
        # From the right masses (they change only at a pivot): where a score walk stops, and
        # the score it has summed up to each node.
        self._walk: I64 = np.zeros(height + 1, dtype=np.int64)  # scratch of the compiled walk
        self._stop: BoolArray = np.ones((n_trees, n_nodes), dtype=np.bool_)
        self._summed: F64 = np.zeros((n_trees, n_nodes))
        self._refresh()

    def build(self, features: list[str]) -> None:
        """The trees for these feature names, as River builds them (masses zero)."""
        model = HalfSpaceTrees(n_trees=self.n_trees, height=self.height,
                               window_size=self.window_size, seed=self.params["seed"])
        model.learn_one({f: 0.5 for f in features})  # type: ignore[no-untyped-call]
        self.features = sorted(features)
        position = {f: i for i, f in enumerate(self.features)}
        dfs: list[int] = []
        for t, root in enumerate(model.trees):
            stack: list[tuple[Any, int]] = [(root, 0)]
            while stack:
                node, h = stack.pop()
                if t == 0:
                    dfs.append(h)
                if isinstance(node, PaddedBranch):
                    self._split_feature[t, h] = position[node.feature]
                    self._split_at[t, h] = float(node.threshold)
                    stack.append((node.children[1], 2 * h + 2))
                    stack.append((node.children[0], 2 * h + 1))
        self._dfs = np.array(dfs, dtype=np.int64)
        self.l_mass[:] = 0.0
        self.r_mass[:] = 0.0
        self._refresh()

    def _refresh(self) -> None:
        r = self.r_mass
        self._stop = r < 0.1 * self.window_size
        self._stop[:, self.n_inner:] = True  # a walk ends at its leaf
        summed = r * self._depth_pow
        for d in range(1, self.height + 1):
            level = np.arange(2 ** d - 1, 2 ** (d + 1) - 1)
            summed[:, level] += summed[:, (level - 1) // 2]
        self._summed = summed

    def _count(self) -> None:
        """One more sample learnt: pivot the masses at the end of a window."""
        self.learned += 1
        self.counter += 1
        if self.counter == self.window_size:
            self.r_mass, self.l_mass = self.l_mass, self.r_mass
            self.l_mass[:] = 0.0
            self.first_window = False
            self.counter = 0
            self._refresh()

    def score_learn(self, x: F64, *, score: bool) -> float:
        """Score (when asked, else 0.0) then learn one sample given as one value per name of
        :attr:`features` (NaN = missing); the trees must be built."""
        scoring = score and not self.first_window
        summed = walk(x, self._split_feature, self._split_at, self.l_mass, self._stop,
                      self._summed, self.height, scoring, True, self._walk)
        self._count()
        return 1 - summed / self._max_score if scoring else 0.0

    def _vector(self, x: Mapping[str, float]) -> F64:
        names = self.features or []
        return np.array([float(x[f]) if f in x else np.nan for f in names], dtype=np.float64)

    def learn_one(self, x: Mapping[str, float]) -> None:
        if self.features is None:
            self.build(list(x))
        self.score_learn(self._vector(x), score=False)

    def score_one(self, x: Mapping[str, float]) -> float:
        if self.features is None or self.first_window:
            return 0.0
        summed = walk(self._vector(x), self._split_feature, self._split_at, self.l_mass,
                      self._stop, self._summed, self.height, True, False, self._walk)
        return 1 - summed / self._max_score

    def to_parts(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        """Metadata and mass arrays (``n_trees x n_nodes``, depth-first order)."""
        meta = {"params": self.params, "features": self.features, "learned": self.learned,
                "counter": self.counter, "first_window": self.first_window}
        arrays: dict[str, npt.NDArray[Any]] = {}
        if self.features is not None and self.n_trees:
            arrays["hst.l_mass"] = self.l_mass[:, self._dfs]
            arrays["hst.r_mass"] = self.r_mass[:, self._dfs]
        return meta, arrays

    @classmethod
    def from_parts(cls, meta: Mapping[str, Any],
                   arrays: Mapping[str, npt.NDArray[Any]]) -> HalfSpaceTreesDetector:
        """Rebuild a detector written by :meth:`to_parts`."""
        det = cls(**meta["params"])
        features = meta["features"]
        if features is None:
            return det
        det.build(list(features))
        l_mass, r_mass = arrays["hst.l_mass"], arrays["hst.r_mass"]
        expected = (det.n_trees, det._dfs.shape[0])
        if l_mass.shape != expected or r_mass.shape != expected:
            raise StateError(f"HST snapshot has masses of shape {l_mass.shape}, the rebuilt "
                             f"trees have {expected}")
        det.l_mass[:, det._dfs] = l_mass
        det.r_mass[:, det._dfs] = r_mass
        det._refresh()
        det.counter = int(meta["counter"])
        det.first_window = bool(meta["first_window"])
        det.learned = int(meta["learned"])
        return det
