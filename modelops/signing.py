"""Sign model artifacts with ed25519 (the worker verifies them: :mod:`agents.models.signing`).

The signature is made over the artifact's raw 32-byte SHA-256 digest; ``ModelDeployed`` carries
the digest (hex), the signature (base64) and the ``key_id`` of the signing key. The public key
to trust goes to the workers' directory as ``<key_id>.pem`` (SubjectPublicKeyInfo PEM).
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from streams.errors import ConfigError

_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


@dataclass(frozen=True)
class Signed:
    """What a deployment needs to name a signed artifact."""

    sha256: str
    signature: str
    key_id: str


def sign_artifact(data: bytes, key: Ed25519PrivateKey, key_id: str) -> Signed:
    """Digest and sign an artifact."""
    digest = hashlib.sha256(data).digest()
    return Signed(sha256=digest.hex(), signature=base64.b64encode(key.sign(digest)).decode(),
                  key_id=key_id)


def new_key_pair(directory: Path, key_id: str) -> Ed25519PrivateKey:
    """Create a key pair: ``<key_id>.pem`` (public, to trust) and ``<key_id>.key`` (private)."""
    if not _KEY_ID.match(key_id):
        raise ConfigError(f"key id {key_id!r} may hold only letters, digits, '.', '_' and '-'")
    key = Ed25519PrivateKey.generate()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{key_id}.pem").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    private = directory / f"{key_id}.key"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    private.chmod(0o600)
    return key


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: not a readable PEM private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path}: not an ed25519 private key")
    return key
