"""Signed model artifacts: a verified deployment loads, anything else is refused with a reason."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from agents.detectors.onnx_scorer import OnnxDetector
from agents.errors import ModelRejectedError
from agents.features.reading import MODEL_FEATURES
from agents.models.registry import load_deployment
from agents.models.signing import TrustedKeys
from modelops.export.iforest import export_iforest, train_iforest
from modelops.signing import new_key_pair, sign_artifact
from streams.errors import ConfigError
from streams.events import ModelDeployed


@pytest.fixture(scope="module")
def artifact() -> bytes:
    rows = np.random.default_rng(0).normal(size=(500, len(MODEL_FEATURES)))
    return export_iforest(train_iforest(rows, n_estimators=10))


def deployment(path: Path, data: bytes, key_dir: Path, *, key_id: str = "release",
               version: str = "1") -> ModelDeployed:
    key = new_key_pair(key_dir, key_id) if not (key_dir / f"{key_id}.key").exists() else None
    from modelops.signing import load_private_key

    signed = sign_artifact(data, key or load_private_key(key_dir / f"{key_id}.key"), key_id)
    return ModelDeployed(model_id="iforest", version=version, plant_id=None,
                         sha256=signed.sha256, artifact_uri=path.as_uri(),
                         signature=signed.signature, key_id=key_id, features=MODEL_FEATURES,
                         deployed_by="test", deployed_at=datetime.now(UTC))


def test_a_signed_model_loads_and_scores(tmp_path: Path, artifact: bytes) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(artifact)
    event = deployment(path, artifact, tmp_path / "keys")
    detector = load_deployment(event, TrustedKeys.from_directory(tmp_path / "keys"))
    assert detector.ref is not None and detector.ref.sha256 == event.sha256
    assert isinstance(detector, OnnxDetector)
    assert detector.score_rows(np.zeros((3, len(MODEL_FEATURES)))).shape == (3,)


def test_tampered_untrusted_or_mismatched_models_are_refused(tmp_path: Path,
                                                             artifact: bytes) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(artifact)
    keys_dir = tmp_path / "keys"
    event = deployment(path, artifact, keys_dir)
    keys = TrustedKeys.from_directory(keys_dir)
    path.write_bytes(artifact[:-1] + bytes([artifact[-1] ^ 1]))
    with pytest.raises(ModelRejectedError, match="sha256"):
        load_deployment(event, keys)
    path.write_bytes(artifact)
    forged = event.model_copy(update={"signature": event.signature[:-4] + "AAA="})
    with pytest.raises(ModelRejectedError, match="signature"):
        load_deployment(forged, keys)
    other = deployment(path, artifact, tmp_path / "other", key_id="rogue")
    with pytest.raises(ModelRejectedError, match="not trusted"):
        load_deployment(other, keys)
    wrong = event.model_copy(update={"features": ("a", "b")})
    with pytest.raises(ModelRejectedError, match="features"):
        load_deployment(wrong, keys)
    remote = event.model_copy(update={"artifact_uri": "s3://bucket/m.onnx"})
    with pytest.raises(ModelRejectedError, match="scheme"):
        load_deployment(remote, keys)
    path.write_bytes(b"garbage")
    garbage = deployment(path, b"garbage", keys_dir, version="2")
    with pytest.raises(ModelRejectedError, match="does not load"):
        load_deployment(garbage, keys)


def test_a_missing_key_directory_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="BIOGAS_AGENTS_TRUSTED_KEYS_DIR"):
        TrustedKeys.from_directory(tmp_path / "nope")
