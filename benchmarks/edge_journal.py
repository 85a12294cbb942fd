"""Edge journal append: scans of 50 readings, durable (fsync per group commit), in bursts as
many pollers produce them; baseline side by side: one durable commit per scan.

    .venv/bin/python -m benchmarks.edge_journal [--scans 8000] [--burst 200]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

from edge_producer.config import JournalPolicy
from edge_producer.journal import Journal
from edge_producer.metrics import EdgeMetrics
from streams.events import Quality, Reading, ScanRecorded
from streams.logsetup import configure_logging
from streams.settings import LogSettings

READINGS = 50


def scans(journal: Journal, n: int) -> list[ScanRecorded]:
    now = datetime.now(UTC)
    readings = tuple(Reading(tag=f"dev.tag{i:03d}", value=20.0 + i / 10, quality=Quality.GOOD)
                     for i in range(READINGS))
    return [ScanRecorded(plant_id=journal.plant_id, edge_boot_id=journal.boot_id,
                         seq=journal.next_seq(), device="plc", poll_group="fast",
                         source_ts=now, readings=readings) for _ in range(n)]


async def run(path: Path, n: int, burst: int) -> tuple[float, int]:
    journal = Journal(path, "bench", uuid4(), JournalPolicy(), EdgeMetrics(), durable=True)
    await journal.open()
    events = scans(journal, n)
    started = time.perf_counter()
    for i in range(0, n, burst):
        await asyncio.gather(*(journal.append_nowait(e) for e in events[i:i + burst]))
    elapsed = time.perf_counter() - started
    commits = int(journal._metrics.journal_commits._value.get())
    await journal.close()
    return elapsed, commits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scans", type=int, default=8000)
    ap.add_argument("--burst", type=int, default=200, help="scans arriving together")
    ap.add_argument("--baseline-scans", type=int, default=300)
    ap.add_argument("--dir", type=Path, default=None, help="where the journal file goes")
    args = ap.parse_args()
    configure_logging(LogSettings(level="warning"))
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        base_s, base_commits = asyncio.run(run(Path(tmp) / "base.sqlite", args.baseline_scans, 1))
        group_s, commits = asyncio.run(run(Path(tmp) / "group.sqlite", args.scans, args.burst))
    base_rate = args.baseline_scans * READINGS / base_s
    rate = args.scans * READINGS / group_s
    sys.stdout.write(
        f"baseline  one durable commit per scan: {args.baseline_scans} scans in {base_s:.2f} s "
        f"({base_commits} commits) = {base_rate:,.0f} readings/s\n"
        f"journal   group commit, bursts of {args.burst} scans: {args.scans} scans x {READINGS} "
        f"readings in {group_s:.2f} s ({commits} commits) = {rate:,.0f} readings/s "
        f"({rate / base_rate:.0f}x baseline; target >= 200,000)\n")


if __name__ == "__main__":
    main()
