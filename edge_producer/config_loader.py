"""Read a plant TOML file and validate it; every problem names the file, line, key and fix."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from edge_producer.config import (
    DeviceConfig,
    JournalPolicy,
    PlantConfig,
    PollGroupConfig,
    TagConfig,
)
from edge_producer.errors import PlantConfigError

_SECTION_MODELS: dict[str, type[BaseModel]] = {
    "devices": DeviceConfig, "poll_groups": PollGroupConfig, "tags": TagConfig,
    "journal": JournalPolicy,
}
_PATH_RE = re.compile(r"^(?P<head>tags\[(?P<index>\d+)\]|[a-z_]+(?:\.[^ .:]+)?)"
                      r"(?: \([^)]*\))?(?:\.(?P<key>\w+))?")


def load_plant(path: Path) -> PlantConfig:
    """Parse and validate ``path``; raises :class:`PlantConfigError` listing every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlantConfigError(str(path), [f"cannot read the file: {exc.strerror}"]) from None
    return parse_plant(text, source=str(path))


def parse_plant(text: str, *, source: str = "<config>") -> PlantConfig:
    """Validate TOML text (see :func:`load_plant`)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlantConfigError(source, [f"not valid TOML: {exc}"]) from None
    try:
        return PlantConfig.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        # A list whose items failed also reports "too short" (it counts valid items only).
        failed = {tuple(e["loc"][:i]) for e in errors
                  for i, part in enumerate(e["loc"]) if isinstance(part, int)}
        problems = [_locate(text, source, line) for error in errors
                    if not (error["type"] == "too_short" and tuple(error["loc"]) in failed)
                    for line in _describe(error, raw)]
        raise PlantConfigError(source, problems) from None


def _describe(error: ErrorDetails, raw: dict[str, Any]) -> list[str]:
    loc = list(error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    if not loc:
        return message.splitlines()
    path = _path(loc, raw)
    if error["type"] == "extra_forbidden":
        model = _model_at(loc)
        allowed = (", ".join(f.alias or n for n, f in model.model_fields.items())
                   if model is not None else "see the docs")
        message = f"unknown key; check the spelling (allowed here: {allowed})"
    elif error["type"] == "missing":
        message = "required key is missing; add it"
    return [f"{path or '(top level)'}: {message}"]


def _path(loc: list[int | str], raw: dict[str, Any]) -> str:
    parts: list[str] = []
    for i, part in enumerate(loc):
        if isinstance(part, int):
            name = ""
            if loc[:i] == ["tags"] and isinstance(raw.get("tags"), list):
                entry = raw["tags"][part] if part < len(raw["tags"]) else None
                if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                    name = f" ({entry['name']})"
            parts[-1] = f"{parts[-1]}[{part}]{name}"
        else:
            parts.append(str(part))
    return ".".join(parts)


def _model_at(loc: list[int | str]) -> type[BaseModel] | None:
    if len(loc) <= 1:
        return PlantConfig
    section = loc[0]
    return _SECTION_MODELS.get(str(section)) if len(loc) <= 3 else None


def _locate(text: str, source: str, problem: str) -> str:
    """Prefix ``problem`` with ``source:line`` when its key path can be found in the text."""
    line = _line_of(text.splitlines(), problem)
    where = f"{source}:{line}" if line else source
    return f"{where}: {problem}"


def _line_of(lines: list[str], problem: str) -> int | None:
    match = _PATH_RE.match(problem)
    if match is None:
        return None
    head, key = match.group("head"), match.group("key")
    start = None
    if match.group("index") is not None:
        wanted, seen = int(match.group("index")), -1
        for n, line in enumerate(lines):
            if _bare(line) == "[[tags]]":
                seen += 1
                if seen == wanted:
                    start = n
                    break
    elif "." in head:
        header = f"[{head}]"
        start = next((n for n, line in enumerate(lines) if _bare(line) == header), None)
        if start is None:
            section, _, name = head.partition(".")
            key_re = re.compile(rf"^\s*{re.escape(name)}\s*=")
            start = next((n for n, line in enumerate(lines)
                          if key_re.match(line) and _section_of(lines, n) == section), None)
            if start is not None:
                return start + 1
    else:
        key = key or head
        start = -1
    if start is None:
        return None
    if key:
        key_re = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for n in range(start + 1, len(lines)):
            if lines[n].lstrip().startswith("["):
                break
            if key_re.match(lines[n]):
                return n + 1
    return start + 1 if start >= 0 else None


def _bare(line: str) -> str:
    """A line without its comment and surrounding blanks (good enough for table headers)."""
    return line.split("#", 1)[0].strip()


def _section_of(lines: list[str], index: int) -> str:
    for n in range(index, -1, -1):
        stripped = lines[n].strip()
        if stripped.startswith("[") and not stripped.startswith("[["):
            return stripped.strip("[]").split(".")[0]
    return ""
