"""The models a deployment can carry, and loading one by the kind its artifact declares.

Per-reading models (the IsolationForest and the autoencoder) score rows of the agents' model
inputs (:data:`agents.features.reading.MODEL_FEATURES`); an envelope model (``biogas.kind =
envelope`` in the ONNX metadata) scores rolling means of its own tags.
"""

from __future__ import annotations

from agents.detectors.envelope import KIND, EnvelopeDetector, model_kind
from agents.detectors.onnx_scorer import OnnxDetector, make_session
from agents.errors import ModelError
from streams.events import ModelRef

DeployedModel = OnnxDetector | EnvelopeDetector


def artifact_kind(data: bytes) -> str | None:
    """The ``biogas.kind`` an ONNX artifact declares (None: a per-reading model);
    :class:`ModelError` when onnxruntime cannot load it."""
    return model_kind(dict(make_session(data).get_modelmeta().custom_metadata_map))


def load_model(data: bytes, *, name: str, ref: ModelRef | None = None) -> DeployedModel:
    """A detector for an ONNX artifact, by its declared kind; :class:`ModelError` when the
    kind is unknown or onnxruntime cannot load it."""
    kind = artifact_kind(data)
    if kind is None:
        return OnnxDetector(data, name=name, ref=ref)
    if kind == KIND:
        return EnvelopeDetector(data, name=name, ref=ref)
    raise ModelError(f"model {name!r} is of unknown kind {kind!r}")
