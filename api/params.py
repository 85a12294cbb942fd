"""Request parameters shared by the routes: plant ids, tag lists, time ranges, cursors."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import Path, Query

from api.errors import ApiProblemError

PLANT_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
TAG_PATTERN = r"^[A-Za-z0-9_.:-]+$"
_TAG = re.compile(TAG_PATTERN)
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(2200, 1, 1, tzinfo=UTC)
MAX_TAGS = 50

PlantPath = Annotated[str, Path(min_length=1, max_length=64, pattern=PLANT_PATTERN,
                                description="Plant id.", examples=["plant-a"])]
PlantFilter = Annotated[list[str] | None, Query(
    alias="plant", description="Only these plants (repeatable); default: every granted plant.",
    examples=[["plant-a"]])]
TagsQuery = Annotated[list[str] | None, Query(
    alias="tag", description=f"Tags (repeatable, at most {MAX_TAGS}); default: every tag of "
    "the plant.", examples=[["dig1.temp", "gas.ch4"]])]
Start = Annotated[datetime | None, Query(
    description="Start (inclusive), ISO 8601; naive times are UTC. Default: end - 24 h.",
    examples=["2026-03-01T00:00:00Z"])]
End = Annotated[datetime | None, Query(
    description="End (exclusive), ISO 8601; naive times are UTC. Default: now.",
    examples=["2026-03-02T00:00:00Z"])]
Limit = Annotated[int, Query(ge=1, le=1000, description="Page size.")]
Cursor = Annotated[str | None, Query(max_length=400, description="`next_cursor` of the "
                                     "previous page.")]


def check_plants(plants: list[str] | None) -> list[str] | None:
    if plants is None:
        return None
    for plant in plants:
        if not (0 < len(plant) <= 64 and re.fullmatch(PLANT_PATTERN, plant)):
            raise ApiProblemError(422, "Invalid request",
                                  f"plant {plant[:80]!r} is not a plant id "
                                  "(lower-case letters, digits, '_' and '-')")
    return plants


def check_tags(tags: list[str] | None) -> list[str] | None:
    """The requested tags, validated (None: every tag)."""
    if not tags:
        return None
    if len(tags) > MAX_TAGS:
        raise ApiProblemError(422, "Invalid request",
                              f"at most {MAX_TAGS} tags per query, got {len(tags)}")
    for tag in tags:
        if len(tag) > 128 or not _TAG.fullmatch(tag):
            raise ApiProblemError(422, "Invalid request",
                                  f"tag {tag[:80]!r} is not a tag name (letters, digits, "
                                  "'_', '.', ':' and '-'; at most 128 characters)")
    return list(dict.fromkeys(tags))


def utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def time_range(start: datetime | None, end: datetime | None, *,
               default: timedelta = timedelta(hours=24),
               longest: timedelta = timedelta(days=3660)) -> TimeRange:
    """A validated [start, end) range in UTC."""
    try:
        stop = utc(end) if end is not None else datetime.now(UTC)
        begin = utc(start) if start is not None else stop - default
    except (OverflowError, ValueError) as exc:
        raise ApiProblemError(422, "Invalid request", f"bad time: {exc}") from exc
    for name, moment in (("start", begin), ("end", stop)):
        if not _EARLIEST <= moment <= _LATEST:
            raise ApiProblemError(422, "Invalid request",
                                  f"{name} {moment.isoformat()} is outside 1970..2200")
    if begin >= stop:
        raise ApiProblemError(422, "Invalid request",
                              f"start {begin.isoformat()} must be before end {stop.isoformat()}")
    if stop - begin > longest:
        raise ApiProblemError(422, "Invalid request",
                              f"the range may span at most {longest.days} days")
    return TimeRange(begin, stop)


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> list[Any] | None:
    """The values of a page cursor; 422 when it was not produced by this API."""
    if cursor is None:
        return None
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != arity:
            raise ValueError("wrong shape")
        return values
    except ValueError as exc:
        raise ApiProblemError(422, "Invalid cursor",
                              "pass the 'next_cursor' of a previous page unchanged") from exc
