"""Where the registry keeps its files: a local directory, or an S3-compatible bucket.

Keys are ``/``-separated paths relative to the registry's root (``iforest/3/model.onnx``).
Writes of one key are atomic on both (a temporary file renamed; one S3 PUT). The deployment
history is appended by read-modify-write on S3, so only one ``biogas models`` command at a time
should deploy against one registry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from agents.models.s3 import s3_client, split_s3_uri
from modelops.errors import RegistryError
from streams.errors import ConfigError
from streams.settings import ObjectStoreSettings


class Storage(Protocol):
    """The operations the registry needs."""

    location: str

    def read(self, key: str) -> bytes | None: ...

    def write(self, key: str, data: bytes) -> None: ...

    def children(self, prefix: str) -> list[str]: ...

    def uri(self, key: str) -> str: ...


class DirectoryStorage:
    """Files under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root)

    def read(self, key: str) -> bytes | None:
        path = self.root / key
        return path.read_bytes() if path.is_file() else None

    def write(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)

    def children(self, prefix: str) -> list[str]:
        base = self.root / prefix
        return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []

    def uri(self, key: str) -> str:
        return (self.root / key).resolve().as_uri()


class S3Storage:
    """Objects under ``s3://bucket/prefix/`` of an S3-compatible store."""

    def __init__(self, url: str, settings: ObjectStoreSettings) -> None:
        try:
            self.bucket, prefix = split_s3_uri(url if url.endswith("/") else url + "/")
        except ConfigError as exc:
            raise RegistryError(f"BIOGAS_MODELS_REGISTRY_URL: {exc}") from exc
        self.prefix = prefix
        self.location = f"s3://{self.bucket}/{prefix}"
        self._client: Any = s3_client(settings)

    def _call(self, what: str, key: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, what)(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("NoSuchKey", "404"):
                return None
            raise RegistryError(f"{self.location}{key}: {what} failed: {exc}") from exc
        except BotoCoreError as exc:
            raise RegistryError(f"{self.location}{key}: {what} failed: {exc} (check "
                                "BIOGAS_S3_ENDPOINT_URL and the credentials)") from exc

    def read(self, key: str) -> bytes | None:
        found = self._call("get_object", key, Key=self.prefix + key)
        if found is None:
            return None
        data: bytes = found["Body"].read()
        return data

    def write(self, key: str, data: bytes) -> None:
        self._call("put_object", key, Key=self.prefix + key, Body=data)

    def children(self, prefix: str) -> list[str]:
        base = self.prefix + (prefix.rstrip("/") + "/" if prefix else "")
        names: set[str] = set()
        token: str | None = None
        while True:
            extra = {"ContinuationToken": token} if token else {}
            page = self._call("list_objects_v2", prefix, Prefix=base, Delimiter="/", **extra)
            for common in (page or {}).get("CommonPrefixes", []):
                names.add(str(common["Prefix"])[len(base):].rstrip("/"))
            token = (page or {}).get("NextContinuationToken")
            if not token:
                return sorted(names)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{key}"
