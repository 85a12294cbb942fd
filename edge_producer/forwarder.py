"""Forward journalled events to Kafka (the aiokafka boundary).

Idempotent producer, ``acks=all``, compression and batching. Events leave the journal only
after the broker acknowledged them, oldest first, so the order on each partition is the order of
the journal. While the broker is unreachable a circuit breaker backs off (exponential, jittered)
and the producer is rebuilt on the next attempt; the backlog then drains in large batches while
the pollers keep appending behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from edge_producer.breaker import BreakerState, CircuitBreaker
from edge_producer.errors import BrokerUnavailableError, JournalError
from edge_producer.journal import Journal, JournalRow
from edge_producer.metrics import EdgeMetrics
from streams.logsetup import get_logger
from streams.settings import KafkaSettings
from streams.topics import Topics

log = get_logger(__name__)


class Forwarder:
    """Moves events from the journal to the broker until cancelled (see :meth:`run`)."""

    def __init__(self, journal: Journal, kafka: KafkaSettings, topics: Topics,
                 metrics: EdgeMetrics, *, batch_rows: int = 5000, compression: str = "gzip",
                 send_timeout_s: float = 30.0, backoff_max_s: float = 10.0) -> None:
        self._journal = journal
        self._kafka = kafka
        self._topics = topics
        self._metrics = metrics
        self._batch_rows = batch_rows
        self._compression = compression
        self._send_timeout_s = send_timeout_s
        self._producer: AIOKafkaProducer | None = None
        self.breaker = CircuitBreaker(time.monotonic, base_s=0.25, max_s=backoff_max_s)
        self.forwarded = 0
        self.last_ack_at: float | None = None

    async def run(self) -> None:
        try:
            while True:
                wait_s = self.breaker.retry_at - time.monotonic()
                if not self.breaker.allow():
                    await asyncio.sleep(max(wait_s, 0.01))
                    continue
                try:
                    sent = await self.forward_once()
                except JournalError as exc:
                    self.breaker.failure()
                    log.error("journal_read_failed", error=str(exc))
                    continue
                except BrokerUnavailableError as exc:
                    self.breaker.failure()
                    self._metrics.set_broker_breaker(self.breaker.state.value)
                    log.warning("broker_unavailable", error=str(exc),
                                retry_in_s=round(self.breaker.retry_at - time.monotonic(), 2))
                    await self._drop_producer()
                    continue
                self.breaker.success()
                self._metrics.set_broker_breaker(BreakerState.CLOSED.value)
                if not sent:
                    self._journal.changed.clear()
                    if self._journal.stats().depth == 0:
                        await self._journal.changed.wait()
        finally:
            await self._drop_producer()

    async def forward_once(self) -> int:
        """Send the oldest waiting events and remove the acknowledged ones; returns how many."""
        rows = await self._journal.read_after(0, self._batch_rows)
        if not rows:
            return 0
        producer = await self._producer_started()
        futures: list[asyncio.Future[Any]] = []
        failure: BaseException | None = None
        try:
            for row in rows:
                futures.append(await producer.send(self._topics.name(row.stream), row.value,
                                                   key=row.key))
        except KafkaError as exc:
            failure = exc
        acked = await self._acked_prefix(futures)
        if acked:
            await self._journal.delete_through(rows[acked - 1].id)
            self._count(rows[:acked])
        if failure is not None or acked < len(rows):
            raise BrokerUnavailableError(
                f"{self._kafka.bootstrap_servers}: {acked} of {len(rows)} events acknowledged "
                f"({failure!r})")
        return acked

    async def _acked_prefix(self, futures: list[asyncio.Future[Any]]) -> int:
        """How many futures, from the first, completed successfully within the timeout."""
        if not futures:
            return 0
        await asyncio.wait(futures, timeout=self._send_timeout_s)
        acked = 0
        for future in futures:
            if not future.done() or future.cancelled() or future.exception() is not None:
                break
            acked += 1
        for future in futures[acked:]:
            if future.done() and not future.cancelled():
                future.exception()  # retrieved: no "exception never retrieved" warnings
        return acked

    def _count(self, rows: list[JournalRow]) -> None:
        self.forwarded += len(rows)
        self.last_ack_at = time.monotonic()
        self._metrics.forwarded.inc(len(rows))
        self._metrics.forwarded_readings.inc(sum(r.readings for r in rows))
        self._metrics.forward_lag.set(max(0.0, time.time() - rows[-1].created))

    async def _producer_started(self) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        producer = AIOKafkaProducer(
            bootstrap_servers=self._kafka.bootstrap_servers,
            client_id=f"{self._kafka.client_id}-edge", enable_idempotence=True, acks="all",
            compression_type=self._compression, linger_ms=5, max_batch_size=512 * 1024,
            max_request_size=8 * 1024 * 1024,
            request_timeout_ms=int(min(self._send_timeout_s, 30.0) * 1000))
        try:
            await asyncio.wait_for(producer.start(), self._send_timeout_s)
        except (KafkaError, OSError, TimeoutError) as exc:
            await self._stop(producer)
            raise BrokerUnavailableError(
                f"{self._kafka.bootstrap_servers}: cannot start the producer ({exc!r})") from None
        self._producer = producer
        log.info("broker_connected", bootstrap_servers=self._kafka.bootstrap_servers)
        return producer

    async def _drop_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await self._stop(producer)

    @staticmethod
    async def _stop(producer: AIOKafkaProducer) -> None:
        # stop() flushes; with the broker gone that could wait forever, so bound it.
        with contextlib.suppress(KafkaError, OSError, TimeoutError):
            await asyncio.wait_for(asyncio.shield(producer.stop()), 5.0)
