"""The tag catalogue projection: the newest TagsConfigured of a plant replaces the older one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg

from streams.events import EventBase, TagsConfigured, TagSpec
from streams.settings import DatabaseSettings
from tests.integration.api_harness import fill

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def catalogue(plant: str, boot: uuid.UUID, seq: int, at: datetime,
              tags: dict[str, str | None]) -> TagsConfigured:
    return TagsConfigured(
        plant_id=plant, edge_boot_id=boot, seq=seq, configured_at=at, config_sha256="a" * 64,
        tags=tuple(TagSpec(tag=t, device="plc", poll_group="fast", poll_interval_s=1.0,
                           unit=unit, min=0.0, max=10.0) for t, unit in tags.items()))


def rows(database: DatabaseSettings) -> list[tuple[str, str, str | None]]:
    with psycopg.connect(database.url) as conn:
        conn.execute(f'SET search_path TO "{database.schema_name}"')
        return [(r[0], r[1], r[2]) for r in conn.execute(
            "SELECT plant_id, tag, unit FROM tag_catalogue ORDER BY plant_id, tag").fetchall()]


def test_newest_catalogue_wins_whatever_the_batching(database: DatabaseSettings) -> None:
    boot1, boot2 = uuid.uuid4(), uuid.uuid4()
    old = catalogue("plant-a", boot1, 0, T0, {"a.temp": "°C", "a.gone": "bar"})
    new = catalogue("plant-a", boot2, 0, T0 + timedelta(hours=1), {"a.temp": "K"})
    other = catalogue("plant-b", boot1, 0, T0, {"b.level": "m"})
    events: list[EventBase] = [old, other, new]
    fill(database, events, log="catalogue-1")
    assert rows(database) == [("plant-a", "a.temp", "K"), ("plant-b", "b.level", "m")]
    # Redelivered, and an older catalogue arriving late, change nothing.
    fill(database, [old, new], log="catalogue-2")
    assert rows(database) == [("plant-a", "a.temp", "K"), ("plant-b", "b.level", "m")]
    late = catalogue("plant-a", uuid.uuid4(), 0, T0 - timedelta(days=1), {"a.old": None})
    fill(database, [late], log="catalogue-3")
    assert rows(database) == [("plant-a", "a.temp", "K"), ("plant-b", "b.level", "m")]
