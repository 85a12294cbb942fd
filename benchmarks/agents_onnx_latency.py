"""ONNX IsolationForest: latency of scoring one reading, the compact graph beside the stock
skl2onnx graph of the same forest, in one run. Also checks both against sklearn.

    .venv/bin/python benchmarks/agents_onnx_latency.py [--trees 100] [--rows 5000]

Prints p50/p99/p99.9 in microseconds of ``OnnxDetector.score_rows`` on one float32 row (the
agent's call), the graph sizes, and the largest difference from ``-score_samples``.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time

import numpy as np
import onnx

from agents.detectors.onnx_scorer import OnnxDetector
from agents.features.reading import MODEL_FEATURES
from modelops.export.iforest import export_iforest, export_stock, train_iforest


def latencies_us(det: OnnxDetector, rows: list[np.ndarray], warmup: int = 500) -> np.ndarray:
    for row in rows[:warmup]:
        det.score_rows(row)
    out = np.empty(len(rows))
    gc.disable()
    try:
        for i, row in enumerate(rows):
            t0 = time.perf_counter_ns()
            det.score_rows(row)
            out[i] = time.perf_counter_ns() - t0
    finally:
        gc.enable()
    return out / 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    train = rng.normal(size=(10_000, len(MODEL_FEATURES)))
    forest = train_iforest(train, n_estimators=args.trees, max_samples=256, seed=0)
    compact_bytes, stock_bytes = export_iforest(forest), export_stock(forest)
    compact, stock = OnnxDetector(compact_bytes), OnnxDetector(stock_bytes)
    # The stock graph outputs (label, decision_function): score with its second output, and
    # -score_samples = -(decision_function + offset_).
    stock._output = [stock.session.get_outputs()[1].name]
    probe = (rng.normal(size=(2000, len(MODEL_FEATURES))) * 3).astype(np.float32)
    expected = -forest.score_samples(probe)
    to_score = {"compact": lambda s: s, "stock": lambda s: -(s + forest.offset_)}
    rows = [r.reshape(1, -1) for r in rng.normal(size=(args.rows, len(MODEL_FEATURES)))
            .astype(np.float32)]
    sys.stdout.write(f"IsolationForest: {args.trees} trees, max_samples 256, "
                     f"{len(MODEL_FEATURES)} features; {args.rows} single-row calls each\n")
    for name, det, data in (("compact", compact, compact_bytes), ("stock", stock, stock_bytes)):
        nodes = len(onnx.load_from_string(data).graph.node)
        err = float(np.abs(to_score[name](det.score_rows(probe)) - expected).max())
        lat = latencies_us(det, rows)
        p50, p99, p999 = np.percentile(lat, [50, 99, 99.9])
        sys.stdout.write(f"  {name:8s} graph nodes {nodes:5d}  max |score - sklearn| "
                         f"{err:.2e}  one row: p50 {p50:7.1f} us  p99 {p99:7.1f} us  "
                         f"p99.9 {p999:7.1f} us\n")


if __name__ == "__main__":
    main()
