"""Fetch, verify and load a deployed model (``ModelDeployed``) into a ready detector.

Artifacts are addressed by URI: ``file://`` (a local-directory registry) or ``s3://bucket/key``
(an S3-compatible registry, ``BIOGAS_S3_*``). A model is accepted only when its bytes match the
digest, the ed25519 signature verifies with a trusted key, its feature list equals its inputs
(the agent's model inputs for a per-reading model, its tags for an envelope), and onnxruntime
loads and runs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np
from botocore.exceptions import BotoCoreError, ClientError

from agents.detectors.deployed import DeployedModel, load_model
from agents.detectors.envelope import WindowModel
from agents.errors import ModelError, ModelRejectedError
from agents.features.reading import MODEL_FEATURES
from agents.models.s3 import s3_client, split_s3_uri
from agents.models.signing import TrustedKeys
from streams.errors import ConfigError
from streams.events import ModelDeployed, ModelRef
from streams.settings import ObjectStoreSettings

MAX_ARTIFACT_BYTES = 64 * 1024 * 1024


class ArtifactFetcher:
    """Reads artifacts by URI; the S3 client is made on first use and kept (one per process).
    Without ``s3`` settings, ``s3://`` URIs are refused."""

    def __init__(self, s3: ObjectStoreSettings | None = None, *,
                 max_bytes: int = MAX_ARTIFACT_BYTES) -> None:
        self.s3, self.max_bytes = s3, max_bytes
        self._client: Any = None

    def fetch(self, uri: str) -> bytes:
        """The artifact's bytes; :class:`ModelRejectedError` when it cannot be fetched."""
        scheme = urlparse(uri).scheme
        if scheme == "file":
            return self._file(Path(unquote(urlparse(uri).path)))
        if scheme == "s3" and self.s3 is not None:
            return self._object(uri)
        raise ModelRejectedError(f"artifact URI scheme {scheme!r} is not supported (use "
                                 "file://, or s3:// with the worker's BIOGAS_S3_* settings)")

    def _file(self, path: Path) -> bytes:
        try:
            size = path.stat().st_size
            if size > self.max_bytes:
                raise ModelRejectedError(
                    f"artifact {path} has {size} bytes, more than {self.max_bytes}")
            return path.read_bytes()
        except OSError as exc:
            raise ModelRejectedError(f"artifact {path} cannot be read: {exc}") from exc

    def _object(self, uri: str) -> bytes:
        assert self.s3 is not None
        try:
            bucket, key = split_s3_uri(uri)
            if self._client is None:
                self._client = s3_client(self.s3)
            head = self._client.head_object(Bucket=bucket, Key=key)
            size = int(head["ContentLength"])
            if size > self.max_bytes:
                raise ModelRejectedError(
                    f"artifact {uri} has {size} bytes, more than {self.max_bytes}")
            body = self._client.get_object(Bucket=bucket, Key=key)["Body"]
            data: bytes = body.read()
            return data
        except (BotoCoreError, ClientError, ConfigError) as exc:
            raise ModelRejectedError(f"artifact {uri} cannot be read: {exc}") from exc


def load_deployment(event: ModelDeployed, keys: TrustedKeys,
                    fetcher: ArtifactFetcher | None = None) -> DeployedModel:
    """A detector for a verified deployment; :class:`ModelRejectedError` otherwise."""
    data = (fetcher or ArtifactFetcher()).fetch(event.artifact_uri)
    keys.verify(data, sha256=event.sha256, signature=event.signature, key_id=event.key_id)
    ref = ModelRef(model_id=event.model_id, version=event.version, sha256=event.sha256)
    try:
        detector = load_model(data, name=event.model_id, ref=ref)
    except ModelError as exc:
        raise ModelRejectedError(f"model does not load: {exc}") from exc
    expected = detector.tags if isinstance(detector, WindowModel) else MODEL_FEATURES
    if tuple(event.features) != expected:
        raise ModelRejectedError(f"model features {list(event.features)} differ from the "
                                 f"model's inputs {list(expected)}")
    width = len(expected) * (detector.columns_per_tag if isinstance(detector, WindowModel) else 1)
    try:
        probe = detector.deviations(np.zeros((2, width))) \
            if isinstance(detector, WindowModel) \
            else detector.score_rows(np.zeros((2, width)))
    except ModelError as exc:
        raise ModelRejectedError(f"model does not run: {exc}") from exc
    if probe.shape[0] != 2 or probe.ndim > 2 or not np.isfinite(probe).all():
        raise ModelRejectedError(f"model returns {probe!r} for a probe; expected 2 rows of "
                                 "finite scores")
    return detector
