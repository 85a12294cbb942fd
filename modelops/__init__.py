"""Model lifecycle: training from the log or the projections, ONNX export with a parity gate,
a signed versioned registry, deployment, rollback and drift."""
