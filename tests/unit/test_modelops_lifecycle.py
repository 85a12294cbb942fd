"""Model lifecycle without a broker: export + parity gate (per-reading models and the envelope),
signed registry, drift, rollback."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from agents.errors import ModelRejectedError
from agents.features.reading import MODEL_FEATURES
from agents.models.signing import TrustedKeys
from cli.models_cmd import models_app
from modelops.artifacts import build, build_envelope
from modelops.drift import drift_anomaly, psi_per_feature, reference, references_of
from modelops.errors import ParityError, RegistryError, TrainingDataError
from modelops.export.iforest import export_iforest, train_iforest
from modelops.parity import check_parity, require_parity
from modelops.publish import deployment, previous_version
from modelops.registry import Registry
from modelops.signing import new_key_pair
from modelops.storage import DirectoryStorage
from modelops.training_data import stream_matrix
from streams.events import ModelRef


def normal_rows(n: int = 2000, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(n, len(MODEL_FEATURES)))
    rows[:, -1] = 0.0  # bad_share: always 0 on a clean stream
    return rows


@pytest.mark.parametrize("kind", ["iforest", "autoencoder"])
def test_export_passes_the_parity_gate(kind: str) -> None:
    candidate = build(kind, normal_rows())  # type: ignore[arg-type]
    assert candidate.parity.passed
    assert candidate.parity.max_abs_diff <= 1e-5
    assert candidate.parity.rows == 400
    assert candidate.metadata["features"] == list(MODEL_FEATURES)


def test_a_different_model_fails_the_parity_gate() -> None:
    rows = normal_rows()
    train, test = rows[:1600], rows[1600:]
    forest = train_iforest(train, seed=0)
    other = export_iforest(train_iforest(train, seed=1))
    reference_scores = -forest.score_samples(test.astype(np.float32)).astype(np.float64)
    report = check_parity(other, reference_scores, test, threshold=0.55)
    assert not report.passed
    with pytest.raises(ParityError, match="not promoted"):
        require_parity(report)


def test_promoted_artifact_verifies_with_the_trusted_key(tmp_path: Path) -> None:
    key = tmp_path / "keys"
    new_key_pair(key, "release")
    registry = Registry(DirectoryStorage(tmp_path / "registry"))
    candidate = build("iforest", normal_rows())
    entry = registry.add("iforest", candidate.onnx, candidate.metadata)
    assert entry.version == "1" and entry.signed is None
    with pytest.raises(RegistryError, match="not promoted"):
        deployment(entry, None, "test")
    promoted = registry.promote(registry.get("iforest"), key / "release.key")
    event = deployment(registry.get("iforest", "1"), "plant-a", "test")
    keys = TrustedKeys.from_directory(key)
    keys.verify(promoted.artifact_bytes(), sha256=event.sha256, signature=event.signature,
                key_id=event.key_id)
    assert event.features == MODEL_FEATURES and event.artifact_uri.startswith("file://")
    with pytest.raises(ModelRejectedError):
        keys.verify(b"other bytes", sha256=event.sha256, signature=event.signature,
                    key_id=event.key_id)


def test_failed_parity_is_never_signed_and_tampering_is_found(tmp_path: Path) -> None:
    new_key_pair(tmp_path, "release")
    registry = Registry(DirectoryStorage(tmp_path / "registry"))
    candidate = build("iforest", normal_rows())
    meta = dict(candidate.metadata)
    meta["metrics"] = {**meta["metrics"], "parity": {**meta["metrics"]["parity"],
                                                     "max_abs_diff": 1e-3}}
    entry = registry.add("iforest", candidate.onnx, meta)
    with pytest.raises(ParityError):
        registry.promote(entry, tmp_path / "release.key")
    assert registry.get("iforest").signed is None
    registry.storage.write(entry.key + "model.onnx", candidate.onnx + b"x")
    with pytest.raises(RegistryError, match="sha256"):
        registry.get("iforest")
    with pytest.raises(RegistryError, match="versions: 1"):
        registry.get("iforest", "7")


def test_psi_is_small_on_the_training_distribution_and_large_after_a_shift() -> None:
    rows = normal_rows(4000)
    refs = reference(rows[:2000])
    same = psi_per_feature(refs, rows[2000:])
    assert max(same.values()) < 0.05
    shifted = rows[2000:].copy()
    shifted[:, 0] += 1.5
    values = psi_per_feature(refs, shifted)
    assert values["z_value"] > 0.25 > max(v for k, v in values.items() if k != "z_value")
    ref = ModelRef(model_id="iforest", version="1", sha256="0" * 64)
    end = datetime(2026, 3, 1, tzinfo=UTC)
    event = drift_anomaly("plant-a", values, 0.25, ref, window_end=end)
    assert event is not None
    assert event.detectors[0].name == "drift"
    assert event.top_features[0].name == "psi:z_value"
    assert event.anomaly_id == drift_anomaly("plant-a", values, 0.25, ref,
                                             window_end=end).anomaly_id  # type: ignore[union-attr]
    assert drift_anomaly("plant-a", same, 0.25, ref, window_end=end) is None


def test_rollback_goes_to_the_version_live_before() -> None:
    history = [{"model_id": "iforest", "version": v, "plant_id": None} for v in ("1", "2")]
    history.append({"model_id": "iforest", "version": "3", "plant_id": "plant-a"})
    assert previous_version(history, "iforest", None) == ("2", "1")
    with pytest.raises(RegistryError, match="no previous version"):
        previous_version(history, "iforest", "plant-a")
    with pytest.raises(RegistryError, match="never deployed"):
        previous_version(history, "autoencoder", None)


def test_an_envelope_is_fitted_on_one_stream_and_passes_the_gate() -> None:
    rng = np.random.default_rng(4)
    streams = {
        "p|plc1|fast": [(float(i), {"chp.p_el": 480.0 + rng.normal(0, 5),
                                    "gas.ch4": 52.0 + rng.normal(0, 0.3),
                                    "status.run": 1.0}) for i in range(500)],
        "p|analyser|slow": [(float(i), {"gas.h2s": 90.0}) for i in range(0, 500, 60)],
    }
    with pytest.raises(TrainingDataError, match=r"2 streams.*analyser/slow, plc1/fast"):
        stream_matrix(streams, None)
    key, tags, values = stream_matrix(streams, "plc1/fast", ("chp.*", "gas.*"))
    assert key == "p|plc1|fast" and tags == ("chp.p_el", "gas.ch4")
    candidate = build_envelope(tags, values)
    assert candidate.parity.passed and candidate.parity.max_abs_diff <= 1e-9
    assert candidate.parity.rows == 100 and candidate.metadata["kind"] == "envelope"
    assert candidate.metadata["params"]["window_scans"] == 15
    with pytest.raises(TrainingDataError, match="too few"):
        build_envelope(tags, values[:40])
    with pytest.raises(RegistryError, match="envelope model"):
        references_of({"kind": "envelope", "model_id": "e"})


def test_train_refuses_an_envelope_from_the_projections() -> None:
    result = CliRunner().invoke(models_app, [
        "train", "--plant", "p", "--since", "2026-03-01", "--until", "2026-03-02",
        "--model", "envelope"], env={"BIOGAS_MODELS_REGISTRY_DIR": "/nonexistent"})
    assert result.exit_code == 2
    assert "use --source log" in " ".join(result.output.split())
