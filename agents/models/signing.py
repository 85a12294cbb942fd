"""Verify model artifacts with ed25519 (they are signed by :mod:`modelops.signing`).

The signature is made over the artifact's raw 32-byte SHA-256 digest; ``ModelDeployed`` carries
the digest (hex), the signature (base64) and the ``key_id`` of the signing key. Trusted public
keys live in a directory as ``<key_id>.pem`` (SubjectPublicKeyInfo PEM), one file per key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agents.errors import ModelRejectedError
from streams.errors import ConfigError


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class TrustedKeys:
    """The public keys a worker trusts, by key id, read from ``<dir>/<key_id>.pem``."""

    def __init__(self, keys: dict[str, Ed25519PublicKey]) -> None:
        self._keys = dict(keys)

    @classmethod
    def from_directory(cls, directory: Path | None) -> TrustedKeys:
        if directory is None:
            return cls({})
        if not directory.is_dir():
            raise ConfigError(f"{directory}: trusted key directory does not exist; set "
                              "BIOGAS_AGENTS_TRUSTED_KEYS_DIR to a directory of <key_id>.pem")
        keys: dict[str, Ed25519PublicKey] = {}
        for path in sorted(directory.glob("*.pem")):
            try:
                key = serialization.load_pem_public_key(path.read_bytes())
            except ValueError as exc:
                raise ConfigError(f"{path}: not a PEM public key ({exc})") from exc
            if not isinstance(key, Ed25519PublicKey):
                raise ConfigError(f"{path}: not an ed25519 public key")
            keys[path.stem] = key
        return cls(keys)

    def key_ids(self) -> tuple[str, ...]:
        return tuple(sorted(self._keys))

    def verify(self, data: bytes, *, sha256: str, signature: str, key_id: str) -> None:
        """Raise :class:`ModelRejectedError` unless ``data`` has this digest and signature."""
        digest = hashlib.sha256(data).digest()
        if digest.hex() != sha256:
            raise ModelRejectedError(f"artifact sha256 is {digest.hex()}, the deployment says "
                                     f"{sha256}")
        key = self._keys.get(key_id)
        if key is None:
            raise ModelRejectedError(f"key {key_id!r} is not trusted (trusted: "
                                     f"{', '.join(self.key_ids()) or 'none'})")
        try:
            key.verify(base64.b64decode(signature, validate=True), digest)
        except (InvalidSignature, binascii.Error) as exc:
            raise ModelRejectedError(f"signature does not verify with key {key_id!r}") from exc
