"""Parse an uploaded CSV of lab results; every bad row is named with its line and the fix."""

from __future__ import annotations

import csv
import io

from pydantic import ValidationError

from api.commands_models import LabResultIn

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
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    if missing or unknown:
        raise LabCsvError([f"header must name {', '.join(REQUIRED)} (optional: digester); "
                           f"missing: {missing or 'none'}, unknown: {unknown or 'none'}"])
    results: list[LabResultIn] = []
    problems: list[str] = []
    try:
        for line, raw in enumerate(reader, start=2):
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
    except csv.Error as exc:
        raise LabCsvError([f"not a readable CSV: {exc}"]) from exc
    if problems:
        raise LabCsvError(problems)
    if not results:
        raise LabCsvError(["the file has a header but no rows"])
    return results


def _why(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
