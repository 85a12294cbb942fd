"""Sign and verify model artifacts with ed25519.

The signature is made over the artifact's raw 32-byte SHA-256 digest; ``ModelDeployed`` carries
the digest (hex), the signature (base64) and the ``key_id`` of the signing key. Trusted public
keys live in a directory as ``<key_id>.pem`` (SubjectPublicKeyInfo PEM), one file per key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from agents.errors import ModelRejectedError
from streams.errors import ConfigError

_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


@dataclass(frozen=True)
class Signed:
    """What a deployment needs to name a signed artifact."""

    sha256: str
    signature: str
    key_id: str


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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
