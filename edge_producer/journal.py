"""The local journal: SQLite in WAL mode, group commit, durable by default.

Every edge event is numbered here (``seq`` grows by one per event of this boot) and stored as
its encoded bytes until the forwarder has the broker's acknowledgement. SQLite's WAL commits are
atomic, so a ``kill -9`` at any instant leaves every committed event in place and none half
written. The journal is bounded by size and age; what happens when it is full is the plant
config's ``[journal] when_full`` policy, and every dropped or refused event is counted (metric,
log, and the ``dropped_total`` of the next heartbeat).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from edge_producer.config import JournalPolicy
from edge_producer.errors import JournalError, JournalFullError
from edge_producer.metrics import EdgeMetrics
from streams.codec import encode
from streams.events import EdgeEvent, ScanRecorded
from streams.logsetup import get_logger
from streams.topics import Topics

log = get_logger(__name__)
_topics = Topics()

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    stream TEXT NOT NULL,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    readings INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (name, value) VALUES ('dropped_total', 0);
"""
_MAX_GROUP = 20000


@dataclass(frozen=True)
class JournalRow:
    """One stored event: ``stream`` names its topic in the catalogue."""

    id: int
    stream: str
    key: bytes
    value: bytes
    readings: int
    created: float


@dataclass(frozen=True)
class JournalStats:
    depth: int
    oldest_age_s: float | None
    bytes: int
    dropped_total: int


_Pending = tuple[str, bytes, bytes, int, float, "asyncio.Future[None]"]


class Journal:
    """Open with :meth:`open`, append with :meth:`append`, close with :meth:`close`."""

    def __init__(self, path: Path, plant_id: str, boot_id: UUID, policy: JournalPolicy,
                 metrics: EdgeMetrics, *, durable: bool = True,
                 on_drop: Callable[[int], None] | None = None) -> None:
        self.path = path
        self._plant_id = plant_id
        self._boot_id = boot_id
        self._policy = policy
        self._metrics = metrics
        self._durable = durable
        self._on_drop = on_drop
        self._seq = 0
        self._conn: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()
        # Serialises the SQLite calls themselves: a coroutine cancelled while its call runs in
        # a worker thread releases the asyncio lock, but never this one.
        self._db_lock = threading.RLock()
        self._pending: list[_Pending] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._closing = False
        self.changed = asyncio.Event()
        self._emptied = asyncio.Event()
        self._depth = 0
        self._bytes = 0
        self._dropped = 0
        self._oldest: float | None = None

    @property
    def plant_id(self) -> str:
        return self._plant_id

    @property
    def boot_id(self) -> UUID:
        return self._boot_id

    def next_seq(self) -> int:
        seq = self._seq
        self._seq += 1
        return seq

    async def open(self) -> None:
        await asyncio.to_thread(self._open_sync)
        self._writer = asyncio.create_task(self._write_loop(), name="journal-writer")
        self._publish()
        if self._depth:
            self.changed.set()

    def _open_sync(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={'FULL' if self._durable else 'NORMAL'}")
            conn.execute("PRAGMA busy_timeout=10000")
            conn.executescript(_SCHEMA)
            depth, size = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(value)), 0) FROM events").fetchone()
            (dropped,) = conn.execute(
                "SELECT value FROM meta WHERE name = 'dropped_total'").fetchone()
            oldest = conn.execute("SELECT created FROM events ORDER BY id LIMIT 1").fetchone()
        except sqlite3.Error as exc:
            raise JournalError(f"cannot open the journal {self.path}: {exc}; choose another "
                               "--journal (BIOGAS_EDGE_JOURNAL)") from None
        except OSError as exc:  # its folder cannot be made: a file in the way, no permission
            raise JournalError(f"cannot create the journal {self.path}: {exc.strerror or exc} "
                               f"({exc.filename or self.path.parent}); choose another "
                               "--journal (BIOGAS_EDGE_JOURNAL)") from None
        self._conn = conn
        self._depth, self._bytes, self._dropped = int(depth), int(size), int(dropped)
        self._oldest = float(oldest[0]) if oldest else None
        log.info("journal_opened", path=str(self.path), depth=self._depth, bytes=self._bytes)

    def append_nowait(self, event: EdgeEvent) -> asyncio.Future[None]:
        """Queue ``event`` for the next group commit; the future resolves once it is durable
        (or fails with :class:`JournalFullError` / :class:`JournalError`)."""
        if self._closing:
            raise JournalError("the journal is closed")
        if self._policy.when_full == "reject_new" and self._bytes >= self._policy.max_bytes:
            self._count_dropped(1, "reject_new")
            raise JournalFullError(f"journal {self.path} holds {self._bytes} bytes, its "
                                   f"bound is {self._policy.max_bytes}; event refused")
        value = encode(event)
        readings = len(event.readings) if isinstance(event, ScanRecorded) else 0
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        stream = _topics.topic_for(event).stream.value
        self._pending.append((stream, _topics.key_for(event), value, readings, time.time(),
                              future))
        self._wake.set()
        return future

    async def append(self, event: EdgeEvent) -> None:
        await self.append_nowait(event)

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch, self._pending = self._pending[:_MAX_GROUP], self._pending[_MAX_GROUP:]
                try:
                    async with self._lock:
                        await asyncio.to_thread(self._insert_sync, batch)
                except JournalError as exc:
                    for item in batch:
                        if not item[5].done():
                            item[5].set_exception(exc)
                    continue
                for item in batch:
                    if not item[5].done():
                        item[5].set_result(None)
                self.changed.set()
                await self._enforce_bound()
            if self._closing:
                return

    def _insert_sync(self, batch: list[_Pending]) -> None:
        with self._db_lock:
            return self._insert_sync_unlocked(batch)

    def _insert_sync_unlocked(self, batch: list[_Pending]) -> None:
        conn = self._connection()
        rows = [(s, k, v, n, c) for s, k, v, n, c, _ in batch]
        try:
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO events (stream, key, value, readings, created) "
                             "VALUES (?, ?, ?, ?, ?)", rows)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise JournalError(f"writing to the journal {self.path} failed: {exc}") from None
        if self._oldest is None:
            self._oldest = rows[0][4]
        self._depth += len(rows)
        self._bytes += sum(len(r[2]) for r in rows)
        self._metrics.journal_commits.inc()
        self._publish()

    async def _enforce_bound(self) -> None:
        if self._policy.when_full != "drop_oldest":
            return
        stats = self.stats()
        too_old = stats.oldest_age_s is not None and stats.oldest_age_s > self._policy.max_age_s
        if self._bytes <= self._policy.max_bytes and not too_old:
            return
        async with self._lock:
            dropped = await asyncio.to_thread(self._drop_oldest_sync)
        if dropped:
            self._count_dropped(dropped, "drop_oldest")

    def _drop_oldest_sync(self) -> int:
        with self._db_lock:
            return self._drop_oldest_sync_unlocked()

    def _drop_oldest_sync_unlocked(self) -> int:
        """Delete the oldest events until the journal is under 90 % of its size bound and
        holds nothing older than its age bound."""
        conn = self._connection()
        target = int(self._policy.max_bytes * 0.9)
        cutoff = time.time() - self._policy.max_age_s
        excess = max(0, self._bytes - target)
        last_id = conn.execute(
            "SELECT COALESCE(MAX(id), 0) FROM (SELECT id, SUM(LENGTH(value)) OVER "
            "(ORDER BY id) AS running, created FROM events) WHERE running <= ? OR created < ?",
            (excess, cutoff)).fetchone()[0]
        if excess and not last_id:
            last_id = conn.execute("SELECT MIN(id) FROM events").fetchone()[0] or 0
        return self._delete_sync(int(last_id), dropped=True)

    def _delete_sync(self, through_id: int, *, dropped: bool = False) -> int:
        with self._db_lock:
            return self._delete_sync_unlocked(through_id, dropped=dropped)

    def _delete_sync_unlocked(self, through_id: int, *, dropped: bool = False) -> int:
        conn = self._connection()
        try:
            conn.execute("BEGIN")
            n, size = conn.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(value)), 0) FROM "
                                   "events WHERE id <= ?", (through_id,)).fetchone()
            conn.execute("DELETE FROM events WHERE id <= ?", (through_id,))
            if dropped and n:
                conn.execute("UPDATE meta SET value = value + ? WHERE name = 'dropped_total'",
                             (n,))
            oldest = conn.execute("SELECT created FROM events ORDER BY id LIMIT 1").fetchone()
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise JournalError(f"deleting from the journal {self.path} failed: {exc}") from None
        self._depth -= int(n)
        self._bytes -= int(size)
        self._oldest = float(oldest[0]) if oldest else None
        self._publish()
        return int(n)

    def _count_dropped(self, n: int, policy: str) -> None:
        self._dropped += n
        self._metrics.journal_dropped.labels(policy).inc(n)
        log.warning("journal_full", policy=policy, dropped=n, dropped_total=self._dropped,
                    bytes=self._bytes, max_bytes=self._policy.max_bytes)
        if self._on_drop is not None:
            self._on_drop(self._dropped)

    async def read_after(self, after_id: int, limit: int) -> list[JournalRow]:
        """Up to ``limit`` stored events with ``id > after_id``, oldest first."""
        async with self._lock:
            return await asyncio.to_thread(self._read_sync, after_id, limit)

    def _read_sync(self, after_id: int, limit: int) -> list[JournalRow]:
        with self._db_lock:
            return self._read_sync_unlocked(after_id, limit)

    def _read_sync_unlocked(self, after_id: int, limit: int) -> list[JournalRow]:
        try:
            rows = self._connection().execute(
                "SELECT id, stream, key, value, readings, created FROM events WHERE id > ? "
                "ORDER BY id LIMIT ?", (after_id, limit)).fetchall()
        except sqlite3.Error as exc:
            raise JournalError(f"reading the journal {self.path} failed: {exc}") from None
        return [JournalRow(*row) for row in rows]

    async def delete_through(self, through_id: int) -> int:
        """Remove every event up to ``through_id`` (the broker acknowledged them)."""
        async with self._lock:
            n = await asyncio.to_thread(self._delete_sync, through_id)
        if self._depth == 0:
            self._emptied.set()
        return n

    async def wait_empty(self, timeout_s: float) -> bool:
        """Wait until every event has been forwarded; False when ``timeout_s`` passed first."""
        if self._depth == 0:
            return True
        self._emptied.clear()
        try:
            await asyncio.wait_for(self._emptied.wait(), timeout_s)
        except TimeoutError:
            return self._depth == 0
        return True

    def stats(self) -> JournalStats:
        oldest = None if self._oldest is None else max(0.0, time.time() - self._oldest)
        return JournalStats(self._depth, oldest, self._bytes, self._dropped)

    def _publish(self) -> None:
        age = 0.0 if self._oldest is None else max(0.0, time.time() - self._oldest)
        self._metrics.journal_age.set(age)
        self._metrics.journal_depth.set(self._depth)
        self._metrics.journal_bytes.set(self._bytes)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise JournalError("the journal is not open")
        return self._conn

    async def close(self) -> None:
        """Commit what is queued, then close the database."""
        self._closing = True
        self._wake.set()
        if self._writer is not None:
            await self._writer
            self._writer = None
        async with self._lock:
            await asyncio.to_thread(self._close_sync)

    def _close_sync(self) -> None:
        with self._db_lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
