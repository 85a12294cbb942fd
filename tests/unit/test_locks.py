"""The lock files (``./dev lock``) hold what pyproject.toml pins, with hashes, and the dev lock
keeps the runtime lock's versions: an edit of one without the other fails here."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;\\]+)")


def _name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw).lower()


def locked(path: Path) -> dict[str, str]:
    """Package -> version of a lock file; every entry must carry a hash."""
    text = path.read_text()
    found: dict[str, str] = {}
    for block in re.split(r"\n(?=\S)", text):
        match = _PIN.match(block)
        if match is None:
            continue
        assert "--hash=sha256:" in block, f"{path.name}: {match.group(1)} has no hash"
        found[_name(match.group(1))] = match.group(2)
    return found


def pinned(specs: list[str]) -> dict[str, str]:
    out = {}
    for spec in specs:
        match = _PIN.match(spec)
        assert match is not None, f"pyproject.toml: {spec!r} is not an exact pin"
        out[_name(match.group(1))] = match.group(2)
    return out


def test_the_locks_hold_the_pins_and_agree() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime, dev = locked(ROOT / "requirements.lock"), locked(ROOT / "requirements-dev.lock")
    for name, version in pinned(project["dependencies"]).items():
        assert runtime.get(name) == version, f"requirements.lock: {name} (run ./dev lock)"
    for name, version in pinned(project["optional-dependencies"]["dev"]).items():
        assert dev.get(name) == version, f"requirements-dev.lock: {name} (run ./dev lock)"
    assert {n: v for n, v in dev.items() if n in runtime} == runtime
    assert len(runtime) > 50 and len(dev) > len(runtime)  # transitive packages are locked too
