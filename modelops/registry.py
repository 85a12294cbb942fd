"""A registry of versioned, signed model artifacts, in a local directory (default) or an
S3-compatible bucket (``BIOGAS_MODELS_REGISTRY_URL=s3://bucket/prefix``).

Layout under the root: ``<model_id>/<version>/model.onnx`` and ``metadata.json`` (kind,
features in input order, training range and source, metrics, parity report, training
distribution, sha256, and, once promoted, the ed25519 signature and key id). Versions are 1, 2,
3, ... per model id. ``deployments.jsonl`` records every deployment published, for rollback.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from agents.models.signing import sha256_hex
from modelops.errors import RegistryError
from modelops.parity import ParityReport, require_parity
from modelops.settings import ModelOpsSettings
from modelops.signing import Signed, load_private_key, sign_artifact
from modelops.storage import DirectoryStorage, S3Storage, Storage

ARTIFACT, METADATA, HISTORY = "model.onnx", "metadata.json", "deployments.jsonl"


@dataclass(frozen=True)
class Entry:
    model_id: str
    version: str
    metadata: dict[str, Any]
    storage: Storage

    @property
    def key(self) -> str:
        """The key of the version's folder."""
        return f"{self.model_id}/{self.version}/"

    @property
    def location(self) -> str:
        return f"{self.storage.location.rstrip('/')}/{self.key}"

    @property
    def uri(self) -> str:
        """Where the agents fetch the artifact (file:// or s3://)."""
        return self.storage.uri(self.key + ARTIFACT)

    def artifact_bytes(self) -> bytes:
        data = self.storage.read(self.key + ARTIFACT)
        if data is None:
            raise RegistryError(f"{self.location}{ARTIFACT} is missing")
        return data

    @property
    def signed(self) -> Signed | None:
        sig = self.metadata.get("signature")
        return None if sig is None else Signed(sha256=self.metadata["sha256"], signature=sig,
                                               key_id=self.metadata["key_id"])


def open_registry(settings: ModelOpsSettings) -> Registry:
    """The registry the settings name: ``registry_url`` (s3://) when set, else
    ``registry_dir``."""
    if settings.registry_url:
        return Registry(S3Storage(settings.registry_url, settings.s3))
    return Registry(DirectoryStorage(settings.registry_dir))


class Registry:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def versions(self, model_id: str) -> list[str]:
        found = [v for v in self.storage.children(model_id)
                 if self.storage.read(f"{model_id}/{v}/{METADATA}") is not None]
        return sorted(found, key=lambda v: (len(v), v))

    def models(self) -> list[str]:
        return self.storage.children("")

    def add(self, model_id: str, onnx: bytes, metadata: dict[str, Any]) -> Entry:
        """Store a new version (unsigned: a candidate until promoted)."""
        existing = [int(v) for v in self.versions(model_id) if v.isdigit()]
        version = str(max(existing, default=0) + 1)
        meta = {**metadata, "model_id": model_id, "version": version,
                "sha256": sha256_hex(onnx), "created_at": datetime.now(UTC).isoformat()}
        entry = Entry(model_id, version, meta, self.storage)
        if self.storage.read(entry.key + METADATA) is not None:  # another add got there first
            raise RegistryError(f"{entry.location} already exists; register again")
        # the artifact first: a version exists once its metadata does
        self.storage.write(entry.key + ARTIFACT, onnx)
        self.storage.write(entry.key + METADATA, orjson.dumps(meta, option=orjson.OPT_INDENT_2))
        return entry

    def get(self, model_id: str, version: str | None = None) -> Entry:
        """A version (the latest when None); :class:`RegistryError` naming what exists."""
        versions = self.versions(model_id)
        where = self.storage.location
        if not versions:
            raise RegistryError(f"no model {model_id!r} in the registry {where} (models: "
                                f"{', '.join(self.models()) or 'none'}); run biogas models "
                                "train first")
        chosen = versions[-1] if version is None else version
        if chosen not in versions:
            raise RegistryError(f"{model_id} has no version {chosen!r} in {where} "
                                f"(versions: {', '.join(versions)})")
        raw = self.storage.read(f"{model_id}/{chosen}/{METADATA}")
        assert raw is not None
        meta: dict[str, Any] = orjson.loads(raw)
        entry = Entry(model_id, chosen, meta, self.storage)
        if sha256_hex(entry.artifact_bytes()) != meta["sha256"]:
            raise RegistryError(f"{entry.location}{ARTIFACT}: content does not match its "
                                "recorded sha256; the artifact was modified after training")
        return entry

    def promote(self, entry: Entry, key_path: Path, key_id: str | None = None) -> Entry:
        """Sign the artifact, only if its recorded parity gate passed."""
        parity = entry.metadata.get("metrics", {}).get("parity")
        if parity is None:
            raise RegistryError(f"{entry.location}: no parity report; re-export the model")
        report = ParityReport(**{k: v for k, v in parity.items() if k != "passed"})
        require_parity(report)
        signed = sign_artifact(entry.artifact_bytes(), load_private_key(key_path),
                               key_id or key_path.stem)
        if signed.sha256 != entry.metadata["sha256"]:
            raise RegistryError(f"{entry.location}{ARTIFACT}: changed since it was registered")
        meta = {**entry.metadata, "signature": signed.signature, "key_id": signed.key_id,
                "promoted_at": datetime.now(UTC).isoformat()}
        self.storage.write(entry.key + METADATA, orjson.dumps(meta, option=orjson.OPT_INDENT_2))
        return Entry(entry.model_id, entry.version, meta, entry.storage)

    def record_deployment(self, record: dict[str, Any]) -> None:
        history = self.storage.read(HISTORY) or b""
        self.storage.write(HISTORY, history + orjson.dumps(record) + b"\n")

    def deployments(self) -> list[dict[str, Any]]:
        history = self.storage.read(HISTORY) or b""
        return [orjson.loads(line) for line in history.splitlines() if line.strip()]
