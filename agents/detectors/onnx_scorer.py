"""Run an ONNX anomaly model (IsolationForest or autoencoder export) behind the detector protocol.

The session is built once per loaded artifact, single-threaded (the worker is one process per
core). onnxruntime's exceptions are translated here into :class:`agents.errors.ModelError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as ort_state

from agents.detectors.protocol import as_row
from agents.errors import ModelError
from agents.features.windows import F64
from streams.events import ModelRef

ORT_ERRORS: tuple[type[BaseException], ...] = (
    ort_state.Fail, ort_state.InvalidArgument, ort_state.InvalidGraph, ort_state.InvalidProtobuf,
    ort_state.NoSuchFile, ort_state.NoModel, ort_state.NotImplemented, ort_state.EngineError,
    ort_state.RuntimeException, ort_state.EPFail, ort_state.NotFound, ort_state.ModelLoaded,
)


#: I/O bindings kept per detector (one per row count seen)
MAX_BINDINGS = 16


def make_session(model_bytes: bytes) -> ort.InferenceSession:
    """An onnxruntime session for ``model_bytes``: CPU, one thread, sequential."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(model_bytes, sess_options=options,
                                    providers=["CPUExecutionProvider"])
    except ORT_ERRORS as exc:
        raise ModelError(f"onnxruntime cannot load the model: {exc}") from exc


class OnnxDetector:
    """An ONNX model mapping float32 rows ``[N, D]`` to one anomaly score per row."""

    def __init__(self, model_bytes: bytes | ort.InferenceSession, *, name: str = "iforest",
                 ref: ModelRef | None = None) -> None:
        self.name = name
        self.ref = ref
        self.session = model_bytes if isinstance(model_bytes, ort.InferenceSession) \
            else make_session(model_bytes)
        inputs = self.session.get_inputs()
        outputs = self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) < 1:
            raise ModelError(f"model {name!r} must have one input and an output, has "
                             f"{len(inputs)} inputs and {len(outputs)} outputs")
        self._input = inputs[0].name
        self._output = [outputs[0].name]
        width = inputs[0].shape[-1] if inputs[0].shape else None
        self.n_features = width if isinstance(width, int) else None
        # One score per row written straight into a buffer we own (an I/O binding per row
        # count): no output allocation and no dict per call. Only for an output declared as
        # float32 [N] or [N, 1]; other graphs go through session.run.
        shape = outputs[0].shape or []
        self._out_shape: tuple[int, ...] | None = (
            (1,) if outputs[0].type == "tensor(float)" and len(shape) == 2 and shape[1] == 1
            else () if outputs[0].type == "tensor(float)" and len(shape) == 1 else None)
        self._bound: dict[int, tuple[ort.IOBinding, npt.NDArray[np.float32]]] = {}

    def learn_one(self, x: Mapping[str, float]) -> None:
        """Offline-trained: deployments replace the model, nothing is learnt online."""

    def score_one(self, x: Mapping[str, float]) -> float:
        return float(self.score_rows(as_row(x))[0])

    def score_rows(self, rows: npt.NDArray[np.floating[Any]]) -> F64:
        """One score per row; float32 C-contiguous rows are passed to onnxruntime as they are."""
        feed = rows if rows.dtype == np.float32 and rows.flags.c_contiguous \
            else np.ascontiguousarray(rows, dtype=np.float32)
        try:
            if self._out_shape is not None and feed.ndim == 2:
                binding, out = self._binding(feed.shape[0], self._out_shape)
                binding.bind_cpu_input(self._input, feed)
                self.session.run_with_iobinding(binding)
            else:
                out = self.session.run(self._output, {self._input: feed})[0]
        except ORT_ERRORS as exc:
            raise ModelError(f"model {self.name!r} failed to score {rows.shape}: {exc}") from exc
        scores: F64 = out[:, 0].astype(np.float64) if out.ndim == 2 else out.astype(np.float64)
        return scores

    def _binding(self, n: int, out_shape: tuple[int, ...]
                 ) -> tuple[ort.IOBinding, npt.NDArray[np.float32]]:
        found = self._bound.get(n)
        if found is None:
            if len(self._bound) >= MAX_BINDINGS:  # scans of many sizes: start over
                self._bound.clear()
            out = np.empty((n, *out_shape), dtype=np.float32)
            binding = self.session.io_binding()
            binding.bind_output(self._output[0], "cpu", 0, np.float32, list(out.shape),
                                out.ctypes.data)
            found = self._bound[n] = (binding, out)
        return found
