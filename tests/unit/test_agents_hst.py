"""The numpy HalfSpaceTrees walk against River's own: same scores, same masses."""

from __future__ import annotations

import numpy as np
from river.anomaly import HalfSpaceTrees

from agents.detectors.hst import HalfSpaceTreesDetector


def _river_masses(model: HalfSpaceTrees) -> tuple[np.ndarray, np.ndarray]:
    nodes = [list(tree.iter_dfs()) for tree in model.trees]  # type: ignore[no-untyped-call]
    return (np.array([[n.l_mass for n in t] for t in nodes], np.float64),
            np.array([[n.r_mass for n in t] for t in nodes], np.float64))


def test_scores_and_masses_equal_rivers_with_missing_and_new_features() -> None:
    rng = np.random.default_rng(11)
    names = [f"t{i:02d}" for i in range(12)]
    river = HalfSpaceTrees(n_trees=6, height=5, window_size=40, seed=3)
    ours = HalfSpaceTreesDetector(n_trees=6, height=5, window_size=40, seed=3)
    for step in range(400):
        x = {n: float(v) for n, v in zip(names, rng.random(len(names)), strict=True)}
        if step % 3 == 0:  # missing features take the heavier child
            for n in rng.choice(names, size=int(rng.integers(1, 6)), replace=False):
                del x[str(n)]
        if step % 7 == 0:
            x["extra"] = 0.9  # a feature the trees do not split on
        if step > 0:
            assert ours.score_one(x) == float(river.score_one(x))  # type: ignore[no-untyped-call]
        river.learn_one(x)  # type: ignore[no-untyped-call]
        ours.learn_one(x)
        meta, arrays = ours.to_parts()
        l_mass, r_mass = _river_masses(river)
        assert np.array_equal(arrays["hst.l_mass"], l_mass)
        assert np.array_equal(arrays["hst.r_mass"], r_mass)
        assert meta["counter"] == river.counter
        assert meta["first_window"] == river._first_window


def test_score_learn_equals_score_then_learn() -> None:
    rng = np.random.default_rng(5)
    names = [f"t{i}" for i in range(8)]
    a = HalfSpaceTreesDetector(n_trees=4, height=6, window_size=30)
    b = HalfSpaceTreesDetector(n_trees=4, height=6, window_size=30)
    a.build(names)
    b.build(names)
    for _ in range(200):
        v = rng.random(len(names))
        v[rng.random(len(names)) < 0.2] = np.nan
        x = {n: float(val) for n, val in zip(sorted(names), v, strict=True)
             if not np.isnan(val)}
        expected = b.score_one(x)
        b.learn_one(x)
        assert a.score_learn(v, score=True) == expected
    assert np.array_equal(a.l_mass, b.l_mass)
    assert np.array_equal(a.r_mass, b.r_mass)
