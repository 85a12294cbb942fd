"""The models a deployment can carry, and loading one by the kind its artifact declares.

Per-reading models (the IsolationForest and the autoencoder) score rows of the agents' model
inputs (:data:`agents.features.reading.MODEL_FEATURES`); an envelope model (``biogas.kind =
envelope`` in the ONNX metadata) scores rolling means of its own tags, a subspace model
(``subspace``) their rolling means and spreads together.
"""

from __future__ import annotations

from agents.detectors import subspace
from agents.detectors.envelope import KIND, EnvelopeDetector, model_kind
from agents.detectors.onnx_scorer import OnnxDetector, make_session
from agents.detectors.subspace import SubspaceDetector
from agents.errors import ModelError
from streams.events import ModelRef

DeployedModel = OnnxDetector | EnvelopeDetector | SubspaceDetector


def load_model(data: bytes, *, name: str, ref: ModelRef | None = None) -> DeployedModel:
    """A detector for an ONNX artifact, by the kind it declares (``biogas.kind``; none: a
    per-reading model), on one session; :class:`ModelError` when the kind is unknown or
    onnxruntime cannot load it."""
    session = make_session(data)
    kind = model_kind(dict(session.get_modelmeta().custom_metadata_map))
    if kind is None:
        return OnnxDetector(session, name=name, ref=ref)
    if kind == KIND:
        return EnvelopeDetector(session, name=name, ref=ref)
    if kind == subspace.KIND:
        return SubspaceDetector(session, name=name, ref=ref)
    raise ModelError(f"model {name!r} is of unknown kind {kind!r}")
