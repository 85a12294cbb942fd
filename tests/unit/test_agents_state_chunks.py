"""Snapshots of any size as records of bounded size: parts, a manifest written last, the
previous generation's parts removed after it."""

from __future__ import annotations

import os
from collections.abc import Awaitable
from dataclasses import dataclass, field

import pytest

from agents import state_chunks
from agents.errors import StateError
from agents.worker.app import TableStore


@dataclass
class _Changelog:
    name: str = "app-stream-state-changelog"

    def get_topic_name(self) -> str:
        return self.name


@dataclass
class _Table:
    """What TableStore uses of a Faust table: its data and its changelog's name."""

    data: dict[bytes, bytes] = field(default_factory=dict)
    changelog_topic: _Changelog = field(default_factory=_Changelog)


@dataclass
class _Log:
    records: list[tuple[bytes, bytes | None]] = field(default_factory=list)

    async def publish(self, topic: str, key: bytes, value: bytes | None,
                      partition: int | None = None) -> Awaitable[object]:
        assert topic == "app-stream-state-changelog" and partition == 3
        self.records.append((key, value))

        async def acknowledged() -> None:
            return None

        return acknowledged()


def test_a_snapshot_splits_into_parts_and_joins_back() -> None:
    data = os.urandom(2 * state_chunks.CHUNK_BYTES + 17)
    parts, manifest = state_chunks.split("p|plc|fast", data, 4)
    assert [len(c) for _, c in parts] == [state_chunks.CHUNK_BYTES] * 2 + [17]
    assert state_chunks.manifest_of(manifest) == (4, 3)
    got = dict(parts)
    assert state_chunks.join("p|plc|fast", manifest, got.get) == data
    del got[parts[1][0]]
    with pytest.raises(StateError, match="part 2 of 3"):
        state_chunks.join("p|plc|fast", manifest, got.get)
    got = {**dict(parts), parts[2][0]: b"x" * 17}
    with pytest.raises(StateError, match="do not add up"):
        state_chunks.join("p|plc|fast", manifest, got.get)
    assert state_chunks.manifest_of(b"BGS1" + data[:40]) is None


async def test_the_table_store_writes_parts_then_the_manifest_then_drops_the_old_parts(
        ) -> None:
    log, table = _Log(), _Table()
    store = TableStore(table, log.publish)  # type: ignore[arg-type]
    wide = os.urandom(3 * state_chunks.CHUNK_BYTES)
    await (await store.save("k", 3, wide))
    keys = [k.decode() for k, _ in log.records]
    assert keys == [state_chunks.part_key("k", 0, i) for i in range(3)] + ["k"]
    assert max(len(v or b"") for _, v in log.records) <= state_chunks.CHUNK_BYTES
    assert store.load("k") == wide and list(store.keys()) == ["k"]

    wider = os.urandom(4 * state_chunks.CHUNK_BYTES + 1)
    log.records.clear()
    await (await store.save("k", 3, wider))
    keys = [k.decode() for k, _ in log.records]
    new = [state_chunks.part_key("k", 1, i) for i in range(5)]
    old = [state_chunks.part_key("k", 0, i) for i in range(3)]
    assert keys == [*new, "k", *old]  # a crash anywhere leaves a manifest with its parts
    assert [v for _, v in log.records[-3:]] == [None, None, None]
    assert store.load("k") == wider
    assert sorted(k.decode() for k in table.data) == sorted([*new, "k"])

    small = b"BGS1 small"
    await (await store.save("k", 3, small))
    assert store.load("k") == small and sorted(table.data) == [b"k"]

    table.data[state_chunks.part_key("j", 0, 0).encode()] = b"orphan"
    table.data[b"j"] = state_chunks.split("j", wide, 0)[1]
    with pytest.raises(StateError, match="missing"):
        store.load("j")
