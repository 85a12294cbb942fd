"""Secrets the local stack generates once and keeps in its state directory (mode 0600)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def stack_secret(state_dir: Path, name: str) -> str:
    """The secret ``name`` of this stack, created on first use."""
    path = state_dir / "secrets" / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value
