"""S3-compatible object storage: ``s3://bucket/key`` addresses and one client per process."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.config import Config

from streams.errors import ConfigError
from streams.settings import ObjectStoreSettings


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/key`` -> ``("bucket", "some/key")``; :class:`ConfigError` otherwise."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ConfigError(f"{uri!r} is not an s3://bucket/key address")
    return parsed.netloc, parsed.path.lstrip("/")


def s3_client(settings: ObjectStoreSettings) -> Any:
    """A boto3 S3 client for the configured store (path-style addressing, short timeouts,
    a few retries)."""
    secret = settings.secret_access_key
    return boto3.client(
        "s3", endpoint_url=settings.endpoint_url, region_name=settings.region,
        aws_access_key_id=settings.access_key_id,
        aws_secret_access_key=None if secret is None else secret.get_secret_value(),
        config=Config(s3={"addressing_style": "path"}, connect_timeout=5, read_timeout=30,
                      retries={"max_attempts": 3, "mode": "standard"}))
