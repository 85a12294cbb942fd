"""Batches prepared in worker processes: decoding (the event contract's validation), routing
into rows and encoding the readings for a binary COPY are pure Python and take most of a
replay's time, so a rebuild runs them in other processes, several batches ahead of the one
being written, and the database work overlaps them.

A worker cannot know which sequence numbers the database has received: it assumes none of the
batch's edge events (only duplicates within the batch are found). The writer checks that
assumption inside its transaction and, when an event was received before, routes the batch
again itself (see :meth:`projections.store.ProjectionStore.apply_prepared`).
"""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import struct
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import UUID

from ops.gc_tuning import tune_for_streaming
from projections.batch import (
    Batch,
    EdgeKey,
    RawMessage,
    SeqSet,
    decode_batch,
    edge_keys,
    route_batch,
)
from projections.errors import ProjectionError
from projections.rows import ReadingRow
from streams.events import ScanRecorded

#: The header of a binary COPY stream (signature, flags, no extension) and its end marker.
COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
COPY_TRAILER = b"\xff\xff"
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_ROW_HEAD = struct.Struct(">hiqiq")  # 5 fields; series_id int8; time timestamptz
_FLOAT = struct.Struct(">id")
_LENGTH = struct.Struct(">i")
_NULL = _LENGTH.pack(-1)


def encode_readings(rows: Sequence[ReadingRow]) -> bytes:
    """Reading rows (``READING_COLUMNS``: int8, timestamptz, float8, text, text) as a whole
    binary COPY stream, as psycopg would write them row by row. Texts are Unicode without NUL:
    decoded from UTF-8 JSON (the codec rejects lone surrogates) and passed through
    :func:`projections.values.clean_text`."""
    parts = [COPY_SIGNATURE]
    append = parts.append
    texts: dict[str, bytes] = {}
    last_time: datetime | None = None
    micros = 0
    for sid, time, number, text, quality in rows:
        if time is not last_time:
            micros = (time - _PG_EPOCH) // _MICROSECOND
            last_time = time
        append(_ROW_HEAD.pack(5, 8, sid, 8, micros))
        append(_NULL if number is None else _FLOAT.pack(8, number))
        if text is None:
            append(_NULL)
        else:
            data = text.encode()
            append(_LENGTH.pack(len(data)))
            append(data)
        encoded = texts.get(quality)
        if encoded is None:
            data = quality.encode()
            encoded = texts[quality] = _LENGTH.pack(len(data)) + data
        append(encoded)
    append(COPY_TRAILER)
    return b"".join(parts)


@dataclass
class Prepared:
    """A batch's rows assuming the database received none of its edge events; ``accepted``
    are the (plant, boot, seq) that assumption concerns, ``edge_keys`` the edge boots."""

    batch: Batch
    days: set[date]
    edge_keys: list[EdgeKey]
    accepted: list[tuple[str, UUID, int]]


def prepare(messages: Sequence[RawMessage]) -> Prepared:
    """Decode and route ``messages`` (no database), readings encoded for a binary COPY."""
    decoded = decode_batch(messages)
    seen = SeqSet({})
    batch = route_batch(decoded, seen)
    batch.readings_copy = encode_readings(batch.rows.readings)
    batch.rows.readings = []
    days = {e.source_ts.date() for _, e in decoded if isinstance(e, ScanRecorded)}
    return Prepared(batch, days, edge_keys(decoded), seen.added())


def rows_given(prepared: Prepared, messages: Sequence[RawMessage],
               received: dict[EdgeKey, list[tuple[int, int]]]) -> Batch:
    """The batch to write once the sequence numbers already received are known: the prepared
    one when none of its accepted edge events is among them, else ``messages`` routed again
    here, exactly as :func:`projections.batch.route_batch` does for decoded messages."""
    seen = SeqSet(received)
    if all(seen.add(*key) for key in prepared.accepted):
        return prepared.batch
    return route_batch(decode_batch(messages), SeqSet(received))


_LENGTH_PREFIX = struct.Struct(">Q")


def serve() -> None:
    """A worker process: read pickled batches of messages from stdin and write the pickled
    :class:`Prepared` (or an error message) to stdout, in order, until stdin closes."""
    requests, responses = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints must not corrupt the responses
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops it by closing stdin
    tune_for_streaming()
    while header := requests.read(_LENGTH_PREFIX.size):
        (size,) = _LENGTH_PREFIX.unpack(header)
        try:
            response: Prepared | str = prepare(
                pickle.loads(requests.read(size)))  # noqa: S301 - from our parent process
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which stops
            response = f"preparing a batch failed: {exc!r}"
        data = pickle.dumps(response, protocol=pickle.HIGHEST_PROTOCOL)
        responses.write(_LENGTH_PREFIX.pack(len(data)) + data)
        responses.flush()


class PreparePool:
    """Worker processes (``python -c ...serve()``, talking pickles over their stdin/stdout)
    preparing batches round-robin; each result is a future, resolved in submission order."""

    def __init__(self, workers: int = 2) -> None:
        self._size = workers
        self._workers: list[asyncio.subprocess.Process] = []
        self._waiting: list[deque[asyncio.Future[Prepared]]] = []
        self._readers: list[asyncio.Task[None]] = []
        self._turn = 0

    async def start(self) -> None:
        """Start the worker processes (each loads the event models once)."""
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p or str(Path.cwd()) for p in sys.path)}
        for _ in range(self._size):
            worker = await asyncio.create_subprocess_exec(
                sys.executable, "-c", "from projections.prepare import serve; serve()",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env)
            waiting: deque[asyncio.Future[Prepared]] = deque()
            self._workers.append(worker)
            self._waiting.append(waiting)
            self._readers.append(asyncio.create_task(self._read(worker, waiting)))

    async def submit(self, messages: list[RawMessage]) -> asyncio.Future[Prepared]:
        """Send ``messages`` to the next worker; the future resolves to its result."""
        if not self._workers:
            await self.start()
        i, self._turn = self._turn, (self._turn + 1) % self._size
        worker = self._workers[i]
        result: asyncio.Future[Prepared] = asyncio.get_running_loop().create_future()
        if self._readers[i].done():
            raise ProjectionError("a batch-preparing worker process has stopped")
        self._waiting[i].append(result)
        data = pickle.dumps(messages, protocol=pickle.HIGHEST_PROTOCOL)
        assert worker.stdin is not None
        # Not awaiting drain(): the worker reads the batch once it has finished the previous
        # one, and the caller bounds how many batches are in flight.
        worker.stdin.write(_LENGTH_PREFIX.pack(len(data)) + data)
        return result

    @staticmethod
    async def _read(worker: asyncio.subprocess.Process,
                    waiting: deque[asyncio.Future[Prepared]]) -> None:
        assert worker.stdout is not None
        try:
            while True:
                header = await worker.stdout.readexactly(_LENGTH_PREFIX.size)
                (size,) = _LENGTH_PREFIX.unpack(header)
                data = await worker.stdout.readexactly(size)
                response = pickle.loads(data)  # noqa: S301 - from our worker process
                result = waiting.popleft()
                if result.done():  # cancelled: the batch is not wanted any more
                    continue
                if isinstance(response, Prepared):
                    result.set_result(response)
                else:
                    result.set_exception(ProjectionError(str(response)))
        except asyncio.IncompleteReadError:
            pass
        finally:
            for result in waiting:
                if not result.done():
                    result.set_exception(ProjectionError(
                        f"a batch-preparing worker process exited ({worker.returncode})"))

    async def close(self) -> None:
        """Stop the workers: end their input, wait for them (killed after 10 s)."""
        for worker in self._workers:
            if worker.stdin is not None:
                worker.stdin.close()
        for worker, reader in zip(self._workers, self._readers, strict=True):
            try:
                await asyncio.wait_for(worker.wait(), timeout=10)
            except TimeoutError:
                worker.kill()
                await worker.wait()
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        self._workers.clear()
