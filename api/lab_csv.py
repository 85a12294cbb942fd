"""Parse an uploaded CSV of lab results; every bad row is named with its line and the fix."""

from __future__ import annotations

import csv
import io

from pydantic import ValidationError

from api.schemas_commands import LabResultIn

REQUIRED = ("sample_id", "analyte", "value", "unit", "sampled_at")
OPTIONAL = ("digester",)
MAX_ROWS = 5000


class LabCsvError(ValueError):
    """The upload is not a valid lab-results CSV; ``problems`` name each line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems[:20]))
        self.problems = problems


def parse_lab_csv(data: bytes) -> list[LabResultIn]:
    """Rows of ``sample_id,analyte,value,unit,sampled_at[,digester]`` (header required;
    times ISO 8601 with an offset)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LabCsvError([f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})"]) \
            from exc
    lines = _Lines(text)
    reader = csv.DictReader(lines)
    try:
        results, problems = _rows(reader, lines)
    except csv.Error as exc:
        raise LabCsvError([f"line {lines.count}: not a readable CSV ({exc})"]) from exc
    if problems:
        raise LabCsvError(problems)
    if not results:
        raise LabCsvError(["the file has a header but no rows"])
    return results


class _Lines:
    """The text's lines for the csv reader, counted (``csv.reader.line_num`` is behind by one
    when the reader fails in a line). ``newline=""`` leaves line endings to the csv module, as
    its documentation asks: LF, CRLF and a bare CR all end a line, and one inside a quoted
    field is kept."""

    def __init__(self, text: str) -> None:
        self._lines = io.StringIO(text, newline="")
        self.count = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.count += 1
        return line


def _rows(reader: csv.DictReader[str], lines: _Lines) -> tuple[list[LabResultIn], list[str]]:
    """The valid rows and the problems of the others; ``csv.Error`` for unreadable text (the
    header is read here too)."""
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    if missing or unknown:
        raise LabCsvError([f"header must name {', '.join(REQUIRED)} (optional: digester); "
                           f"missing: {missing or 'none'}, unknown: {unknown or 'none'}"])
    results: list[LabResultIn] = []
    problems: list[str] = []
    for raw in reader:
        line = lines.count  # the file's line (blank lines are skipped, not counted as rows)
        if len(results) + len(problems) >= MAX_ROWS:
            raise LabCsvError([f"at most {MAX_ROWS} rows per upload"])
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        if None in raw:
            problems.append(f"line {line}: more fields than the header names")
            continue
        try:
            results.append(LabResultIn.model_validate(
                {**row, "digester": row.get("digester") or None}))
        except ValidationError as exc:
            problems.append(f"line {line}: {_why(exc)}")
    return results, problems


def _why(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
