"""Fetch, verify and load a deployed model (``ModelDeployed``) into a ready detector.

Artifacts are addressed by URI; ``file://`` (a local-directory registry) is supported. A model
is accepted only when its bytes match the digest, the ed25519 signature verifies with a trusted
key, its feature list equals the agent's model inputs, and onnxruntime loads and runs it.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np

from agents.detectors.onnx_scorer import OnnxDetector
from agents.errors import ModelError, ModelRejectedError
from agents.features.reading import MODEL_FEATURES
from agents.models.signing import TrustedKeys
from streams.events import ModelDeployed, ModelRef

MAX_ARTIFACT_BYTES = 64 * 1024 * 1024


def fetch_artifact(uri: str, *, max_bytes: int = MAX_ARTIFACT_BYTES) -> bytes:
    """The artifact's bytes; :class:`ModelRejectedError` when it cannot be fetched."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        raise ModelRejectedError(f"artifact URI scheme {parsed.scheme!r} is not supported "
                                 "(use file://)")
    path = Path(unquote(parsed.path))
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ModelRejectedError(f"artifact {path} has {size} bytes, more than {max_bytes}")
        return path.read_bytes()
    except OSError as exc:
        raise ModelRejectedError(f"artifact {path} cannot be read: {exc}") from exc


def load_deployment(event: ModelDeployed, keys: TrustedKeys) -> OnnxDetector:
    """A detector for a verified deployment; :class:`ModelRejectedError` otherwise."""
    if tuple(event.features) != MODEL_FEATURES:
        raise ModelRejectedError(f"model features {list(event.features)} differ from the "
                                 f"agent's inputs {list(MODEL_FEATURES)}")
    data = fetch_artifact(event.artifact_uri)
    keys.verify(data, sha256=event.sha256, signature=event.signature, key_id=event.key_id)
    ref = ModelRef(model_id=event.model_id, version=event.version, sha256=event.sha256)
    try:
        detector = OnnxDetector(data, name=event.model_id, ref=ref)
        probe = detector.score_rows(np.zeros((2, len(MODEL_FEATURES))))
    except ModelError as exc:
        raise ModelRejectedError(f"model does not run: {exc}") from exc
    if probe.shape != (2,) or not np.isfinite(probe).all():
        raise ModelRejectedError(f"model returns {probe!r} for a probe; expected 2 finite scores")
    return detector
