"""A local-directory registry of versioned, signed model artifacts.

Layout: ``<root>/<model_id>/<version>/model.onnx`` and ``metadata.json`` (kind, features in
input order, training range and source, metrics, parity report, training distribution, sha256,
and, once promoted, the ed25519 signature and key id). Versions are 1, 2, 3, ... per model id.
``<root>/deployments.jsonl`` records every deployment published, for rollback.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from agents.models.signing import Signed, load_private_key, sha256_hex, sign_artifact
from modelops.errors import RegistryError
from modelops.parity import ParityReport, require_parity

ARTIFACT, METADATA, HISTORY = "model.onnx", "metadata.json", "deployments.jsonl"


@dataclass(frozen=True)
class Entry:
    model_id: str
    version: str
    path: Path
    metadata: dict[str, Any]

    @property
    def artifact(self) -> Path:
        return self.path / ARTIFACT

    @property
    def uri(self) -> str:
        return self.artifact.resolve().as_uri()

    @property
    def signed(self) -> Signed | None:
        sig = self.metadata.get("signature")
        return None if sig is None else Signed(sha256=self.metadata["sha256"], signature=sig,
                                               key_id=self.metadata["key_id"])


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


class LocalRegistry:
    def __init__(self, root: Path) -> None:
        self.root = root

    def versions(self, model_id: str) -> list[str]:
        base = self.root / model_id
        if not base.is_dir():
            return []
        found = [p.name for p in base.iterdir() if (p / METADATA).is_file()]
        return sorted(found, key=lambda v: (len(v), v))

    def models(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def add(self, model_id: str, onnx: bytes, metadata: dict[str, Any]) -> Entry:
        """Store a new version (unsigned: a candidate until promoted)."""
        existing = [int(v) for v in self.versions(model_id) if v.isdigit()]
        version = str(max(existing, default=0) + 1)
        path = self.root / model_id / version
        path.mkdir(parents=True, exist_ok=False)
        meta = {**metadata, "model_id": model_id, "version": version,
                "sha256": sha256_hex(onnx), "created_at": datetime.now(UTC).isoformat()}
        _write_atomic(path / ARTIFACT, onnx)
        _write_atomic(path / METADATA, orjson.dumps(meta, option=orjson.OPT_INDENT_2))
        return Entry(model_id, version, path, meta)

    def get(self, model_id: str, version: str | None = None) -> Entry:
        """A version (the latest when None); :class:`RegistryError` naming what exists."""
        versions = self.versions(model_id)
        if not versions:
            raise RegistryError(f"no model {model_id!r} in the registry {self.root} (models: "
                                f"{', '.join(self.models()) or 'none'}); run biogas models "
                                "train first")
        chosen = versions[-1] if version is None else version
        path = self.root / model_id / chosen
        if chosen not in versions:
            raise RegistryError(f"{model_id} has no version {chosen!r} in {self.root} "
                                f"(versions: {', '.join(versions)})")
        meta: dict[str, Any] = orjson.loads((path / METADATA).read_bytes())
        entry = Entry(model_id, chosen, path, meta)
        if sha256_hex(entry.artifact.read_bytes()) != meta["sha256"]:
            raise RegistryError(f"{entry.artifact}: content does not match its recorded "
                                "sha256; the artifact was modified after training")
        return entry

    def promote(self, entry: Entry, key_path: Path, key_id: str | None = None) -> Entry:
        """Sign the artifact, only if its recorded parity gate passed."""
        parity = entry.metadata.get("metrics", {}).get("parity")
        if parity is None:
            raise RegistryError(f"{entry.path}: no parity report; re-export the model")
        report = ParityReport(**{k: v for k, v in parity.items() if k != "passed"})
        require_parity(report)
        signed = sign_artifact(entry.artifact.read_bytes(), load_private_key(key_path),
                               key_id or key_path.stem)
        if signed.sha256 != entry.metadata["sha256"]:
            raise RegistryError(f"{entry.artifact}: changed since it was registered")
        meta = {**entry.metadata, "signature": signed.signature, "key_id": signed.key_id,
                "promoted_at": datetime.now(UTC).isoformat()}
        _write_atomic(entry.path / METADATA, orjson.dumps(meta, option=orjson.OPT_INDENT_2))
        return Entry(entry.model_id, entry.version, entry.path, meta)

    def record_deployment(self, record: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / HISTORY).open("ab") as handle:
            handle.write(orjson.dumps(record) + b"\n")

    def deployments(self) -> list[dict[str, Any]]:
        path = self.root / HISTORY
        if not path.is_file():
            return []
        return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
