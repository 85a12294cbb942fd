"""Readings for a time range, bucketed to at most ``max_points`` per tag.

The bucket width is the range divided by ``max_points``, rounded up to whole seconds; when it
is a minute or more it is rounded up to whole minutes and the 1-minute rollups are read instead
of the raw readings, and from an hour up to whole hours over the 1-hour rollups. Buckets are
aligned to the start of the range floored to the source's grain. Every bucket carries min, max,
mean (weighted by value count), the last value, and the sample and bad-quality counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from api.db import Database
from api.params import TimeRange

Source = Literal["readings", "rollup_1m", "rollup_1h"]

_RAW = """
SELECT tag, date_bin(%(width)s, time, %(origin)s) AS t,
       min(value) AS min, max(value) AS max, avg(value) AS avg,
       (array_agg(value ORDER BY time DESC) FILTER (WHERE value IS NOT NULL))[1] AS last,
       count(*) AS count, count(*) FILTER (WHERE quality <> 'good') AS bad
FROM readings
WHERE plant_id = %(plant)s AND tag = ANY(%(tags)s) AND time >= %(start)s AND time < %(end)s
GROUP BY tag, t ORDER BY tag, t
"""

_ROLLUP_AS_IS = """
SELECT tag, bucket AS t, value_min AS min, value_max AS max, value_avg AS avg,
       value_last AS last, sample_count AS count, bad_count AS bad
FROM {table}
WHERE plant_id = %(plant)s AND tag = ANY(%(tags)s) AND bucket >= %(start)s AND bucket < %(end)s
ORDER BY tag, bucket
"""

_ROLLUP = """
SELECT tag, date_bin(%(width)s, bucket, %(origin)s) AS t,
       min(value_min) AS min, max(value_max) AS max,
       (sum(value_avg * value_count) / nullif(sum(value_count), 0))::double precision AS avg,
       (array_agg(value_last ORDER BY last_time DESC)
            FILTER (WHERE last_time IS NOT NULL))[1] AS last,
       sum(sample_count)::bigint AS count, sum(bad_count)::bigint AS bad
FROM {table}
WHERE plant_id = %(plant)s AND tag = ANY(%(tags)s) AND bucket >= %(start)s AND bucket < %(end)s
GROUP BY tag, t
"""

@dataclass(frozen=True)
class BucketPlan:
    width_s: int
    source: Source
    origin: datetime


def plan(span: TimeRange, max_points: int) -> BucketPlan:
    """Bucket width and source table for ``span`` cut into at most ``max_points`` buckets."""
    width = max(1, math.ceil(span.seconds / max_points))
    if width >= 3600:
        grain, source = 3600, "rollup_1h"
    elif width >= 60:
        grain, source = 60, "rollup_1m"
    else:
        grain, source = 1, "readings"
    width = math.ceil(width / grain) * grain
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    floored = int((span.start - epoch).total_seconds()) // grain * grain
    origin = epoch + timedelta(seconds=floored)
    return BucketPlan(width, source, origin)  # type: ignore[arg-type]


Point = dict[str, Any]  # t, min, max, avg, last, count, bad


async def bucketed(db: Database, plant: str, tags: list[str], span: TimeRange,
                   bucket: BucketPlan) -> dict[str, list[Point]]:
    """Each tag's buckets in time order (tags without data map to an empty list). Points are
    plain dicts read over the binary protocol: a day of 1-minute buckets is served without
    building a model per point."""
    if bucket.source == "readings":
        sql = _RAW
    elif bucket.width_s == (60 if bucket.source == "rollup_1m" else 3600):
        sql = _ROLLUP_AS_IS.format(table=bucket.source)
    else:
        sql = _ROLLUP.format(table=bucket.source)
    rows = await db.fetch_tuples(sql, {
        "width": timedelta(seconds=bucket.width_s), "origin": bucket.origin, "plant": plant,
        "tags": tags, "start": bucket.origin if bucket.source != "readings" else span.start,
        "end": span.end})
    series: dict[str, list[Point]] = {tag: [] for tag in tags}
    for tag, t, low, high, avg, last, count, bad in rows:
        series[tag].append({"t": t, "min": low, "max": high, "avg": avg, "last": last,
                            "count": count, "bad": bad})
    return series
