"""The SQLite journal: numbering, group commit, bounded size with an explicit policy, and
nothing lost or torn by kill -9."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import orjson
import pytest

from edge_producer.config import JournalPolicy
from edge_producer.errors import JournalFullError
from edge_producer.journal import Journal
from edge_producer.metrics import EdgeMetrics
from streams.codec import decode
from streams.events import Quality, Reading, ScanRecorded
from tests.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]


def scan(journal: Journal, n_readings: int = 5) -> ScanRecorded:
    return ScanRecorded(
        plant_id=journal.plant_id, edge_boot_id=journal.boot_id, seq=journal.next_seq(),
        device="d", poll_group="g", source_ts=datetime.now(UTC),
        readings=tuple(Reading(tag=f"t{i}", value=float(i), quality=Quality.GOOD)
                       for i in range(n_readings)))


def journal_at(path: Path, policy: JournalPolicy | None = None,
               boot: UUID | None = None) -> Journal:
    return Journal(path, "plant-j", boot or uuid4(), policy or JournalPolicy(), EdgeMetrics())


async def test_events_are_numbered_stored_and_removed_after_acknowledgement(
        tmp_path: Path) -> None:
    j = journal_at(tmp_path / "j.sqlite")
    await j.open()
    try:
        await asyncio.gather(*(j.append(scan(j)) for _ in range(500)))
        assert j.stats().depth == 500
        commits = j._metrics.journal_commits._value.get()
        assert commits < 500 / 5, "appends made while a commit runs share the next one"
        rows = await j.read_after(0, 1000)
        seqs = [decode(r.value).seq for r in rows]  # type: ignore[union-attr]
        assert seqs == list(range(500))
        assert {r.stream for r in rows} == {"scans"} and rows[0].key == b"plant-j"
        assert all(r.readings == 5 for r in rows)
        assert await j.delete_through(rows[199].id) == 200
        assert [decode(r.value).seq for r in await j.read_after(0, 1)] == [200]  # type: ignore[union-attr]
        assert j.stats().depth == 300
        assert await j.wait_empty(0.01) is False
    finally:
        await j.close()
    again = journal_at(tmp_path / "j.sqlite")
    await again.open()
    try:
        assert again.stats().depth == 300
        oldest = again.stats().oldest_age_s
        assert oldest is not None and oldest < 60
    finally:
        await again.close()


async def test_drop_oldest_when_full_is_counted_logged_and_reported(tmp_path: Path) -> None:
    dropped: list[int] = []
    j = Journal(tmp_path / "j.sqlite", "plant-j", uuid4(),
                JournalPolicy(max_bytes=1_000_000, when_full="drop_oldest"), EdgeMetrics(),
                on_drop=dropped.append)
    await j.open()
    try:
        for _ in range(40):
            await asyncio.gather(*(j.append(scan(j, 50)) for _ in range(20)))
        stats = j.stats()
        assert stats.bytes <= 1_000_000
        assert stats.dropped_total > 0 and dropped and dropped[-1] == stats.dropped_total
        rows = await j.read_after(0, 10_000)
        seqs = [decode(r.value).seq for r in rows]  # type: ignore[union-attr]
        # the newest are kept, contiguously; the count of the missing ones is reported
        assert seqs == list(range(800 - len(seqs), 800))
        assert stats.dropped_total == 800 - len(seqs)
        assert j._metrics.journal_dropped.labels("drop_oldest")._value.get() == 800 - len(seqs)
    finally:
        await j.close()
    again = journal_at(tmp_path / "j.sqlite")
    await again.open()
    try:
        assert again.stats().dropped_total == stats.dropped_total
    finally:
        await again.close()


async def test_reject_new_refuses_when_full(tmp_path: Path) -> None:
    j = journal_at(tmp_path / "j.sqlite", JournalPolicy(max_bytes=1_000_000,
                                                        when_full="reject_new"))
    await j.open()
    try:
        with pytest.raises(JournalFullError, match="event refused"):
            for _ in range(2000):
                await asyncio.gather(*(j.append(scan(j, 50)) for _ in range(10)))
        assert j.stats().dropped_total == 10  # the one batch that found it full
        rows = await j.read_after(0, 100_000)
        seqs = [decode(r.value).seq for r in rows]  # type: ignore[union-attr]
        assert seqs == list(range(len(seqs)))  # the oldest are all kept
    finally:
        await j.close()


_CHILD = """
import asyncio, sys
from pathlib import Path
from uuid import UUID
from streams.logsetup import configure_logging
from streams.settings import LogSettings
from tests.unit.test_edge_journal import journal_at, scan

async def main():
    configure_logging(LogSettings(), stream=sys.stderr)
    j = journal_at(Path(sys.argv[1]), boot=UUID(sys.argv[2]))
    await j.open()
    while True:
        events = [scan(j, 20) for _ in range(50)]
        await asyncio.gather(*(j.append(e) for e in events))
        sys.stdout.write(f"{events[-1].seq}\\n")
        sys.stdout.flush()

asyncio.run(main())
"""


def test_kill_9_while_appending_loses_no_committed_event(tmp_path: Path) -> None:
    path, boot = tmp_path / "j.sqlite", uuid4()
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(path), str(boot)],
                             stdout=subprocess.PIPE, cwd=ROOT, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert child.stdout is not None
    try:
        acked = [int(eventually(child.stdout.readline, timeout=30, what="an ack"))
                 for _ in range(20)]
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        child.stdout.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        values = [orjson.loads(v) for (v,) in conn.execute("SELECT value FROM events ORDER BY id")]
    finally:
        conn.close()
    seqs = [v["seq"] for v in values]
    assert seqs == list(range(len(seqs))), "no gap and no torn write"
    assert max(acked) < len(seqs), "every acknowledged append survived"
    assert {v["edge_boot_id"] for v in values} == {str(boot)}


async def test_a_journal_that_cannot_be_created_is_one_clear_error(tmp_path: Path) -> None:
    from edge_producer.errors import JournalError

    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("not a folder")
    journal = journal_at(in_the_way / "sub" / "journal.sqlite")
    with pytest.raises(JournalError, match=r"cannot create the journal .*Not a directory.*"
                                           r"--journal \(BIOGAS_EDGE_JOURNAL\)"):
        await journal.open()


def test_the_command_says_so_in_one_line(tmp_path: Path) -> None:
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("not a folder")
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "edge", "run", "--config",
         "configs/demo-plant.toml", "--journal", str(in_the_way / "sub" / "j.sqlite"),
         "--metrics-port", "0"], cwd=Path(__file__).resolve().parents[2],
        capture_output=True, text=True, timeout=120, check=False,
        env=dict(os.environ, BIOGAS_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1"))
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "error: cannot create the journal" in done.stderr
