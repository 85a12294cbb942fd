"""One asyncio task per device: read its poll groups on schedule, turn answers into scans with
quality codes, track the device's link state behind a circuit breaker.

A device only ever waits for itself: its own connection, timeout and backoff. Failed reads give
readings without a value (quality ``comm_fail``/``device_exception``); nothing cached is sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol
from uuid import UUID

from edge_producer.breaker import CircuitBreaker
from edge_producer.config import DeviceConfig
from edge_producer.datatypes import Table
from edge_producer.errors import (
    DeviceExceptionError,
    DeviceTimeoutError,
    JournalError,
    JournalFullError,
    ModbusError,
)
from edge_producer.metrics import EdgeMetrics
from edge_producer.planning import GroupPlan
from edge_producer.readings import failed_readings, request_readings
from edge_producer.reporting import ReportFilter
from streams.events import (
    DeviceStatus,
    DeviceStatusChanged,
    EdgeEvent,
    Quality,
    Reading,
    ScanRecorded,
)
from streams.logsetup import get_logger

log = get_logger(__name__)


class EventSink(Protocol):
    """Where edge events go (the journal): it numbers them and stores them durably."""

    @property
    def plant_id(self) -> str: ...

    @property
    def boot_id(self) -> UUID: ...

    def next_seq(self) -> int: ...

    async def append(self, event: EdgeEvent) -> None: ...


class RegisterReader(Protocol):
    """Reads a block of registers or bits (:class:`edge_producer.modbus_link.ModbusLink`)."""

    async def read(self, table: Table, start: int, count: int, unit_id: int) -> list[int]: ...

    def close(self) -> None: ...


class DevicePoller:
    """Polls one device's groups until cancelled."""

    def __init__(self, name: str, device: DeviceConfig, plans: Sequence[GroupPlan],
                 link: RegisterReader, sink: EventSink, metrics: EdgeMetrics, *,
                 backoff_max_s: float = 30.0) -> None:
        self.name = name
        self._device = device
        self._plans = list(plans)
        self._link = link
        self._sink = sink
        self._metrics = metrics
        loop_time = asyncio.get_running_loop().time
        self._clock = loop_time
        self.breaker = CircuitBreaker(loop_time, base_s=min(0.5, backoff_max_s),
                                      max_s=backoff_max_s)
        self._filter = ReportFilter(t for p in self._plans for r in p.requests for t in r.tags)
        self.status: DeviceStatus | None = None
        self.cycles = 0

    async def run(self) -> None:
        due = {plan.group: self._clock() for plan in self._plans}
        by_group = {plan.group: plan for plan in self._plans}
        try:
            while True:
                group = min(due, key=due.__getitem__)
                start = max(due[group], self.breaker.retry_at)
                delay = start - self._clock()
                if delay > 0:
                    await asyncio.sleep(delay)
                if not self.breaker.allow():
                    continue
                plan = by_group[group]
                await self.poll(plan)
                now = self._clock()
                nxt = due[group] + plan.interval_s
                if nxt <= now:  # overrun or backoff: skip the cycles that were missed
                    missed = int((now - nxt) // plan.interval_s) + 1
                    nxt += missed * plan.interval_s
                due[group] = nxt
        finally:
            self.close()

    def close(self) -> None:
        self._link.close()

    async def poll(self, plan: GroupPlan) -> None:
        """Read one group once, append its scan and any status change."""
        source_ts = datetime.now(UTC)
        t0 = self._clock()
        readings: list[Reading] = []
        comm_error: ModbusError | None = None
        exception: DeviceExceptionError | None = None
        for i, request in enumerate(plan.requests):
            if comm_error is not None:
                readings += failed_readings(request, Quality.COMM_FAIL)
                continue
            if i and self._device.pause_s:
                await asyncio.sleep(self._device.pause_s)
            try:
                words = await self._link.read(request.table, request.start, request.count,
                                              self._device.unit_id)
            except DeviceExceptionError as exc:
                exception = exc
                self._metrics.exceptions.labels(self.name, f"{exc.code:02d}").inc()
                readings += failed_readings(request, Quality.DEVICE_EXCEPTION)
            except ModbusError as exc:
                comm_error = exc
                kind = "timeout" if isinstance(exc, DeviceTimeoutError) else "connection"
                self._metrics.comm_failures.labels(self.name, kind).inc()
                readings += failed_readings(request, Quality.COMM_FAIL)
            else:
                readings += request_readings(request, words, self._device)
        elapsed = self._clock() - t0
        self.cycles += 1
        self._metrics.poll_latency.labels(self.name).observe(elapsed)
        if comm_error is not None:
            self.breaker.failure()
            await self._set_status(DeviceStatus.OFFLINE, str(comm_error), None)
        else:
            self.breaker.success()
            undecodable = [r.tag for r in readings if r.quality is Quality.DECODE_ERROR]
            if exception is not None:
                await self._set_status(DeviceStatus.DEGRADED, str(exception), exception.code)
            elif undecodable:
                await self._set_status(DeviceStatus.DEGRADED, "values the device marks invalid "
                                       "or that cannot be decoded: "
                                       + ", ".join(undecodable[:20]), None)
            else:
                await self._set_status(DeviceStatus.ONLINE, "all reads answered", None)
        outcome = "comm_fail" if comm_error else ("exception" if exception else "ok")
        self._metrics.polls.labels(self.name, outcome).inc()
        self._metrics.set_device_breaker(self.name, self.breaker.state.value)
        kept = self._filter.select(readings, t0)
        if kept:
            await self._append(lambda seq: ScanRecorded(
                plant_id=self._sink.plant_id, edge_boot_id=self._sink.boot_id, seq=seq,
                device=self.name, poll_group=plan.group, source_ts=source_ts,
                readings=tuple(kept), poll_duration_ms=round(elapsed * 1000, 3)))

    async def _set_status(self, status: DeviceStatus, reason: str, code: int | None) -> None:
        if status is self.status:
            return
        previous, self.status = self.status, status
        log.info("device_status", device=self.name, status=status.value,
                 previous=previous.value if previous else None, reason=reason)
        await self._append(lambda seq: DeviceStatusChanged(
            plant_id=self._sink.plant_id, edge_boot_id=self._sink.boot_id, seq=seq,
            device=self.name, status=status, previous=previous, reason=reason[:4000],
            exception_code=code, changed_at=datetime.now(UTC)))

    async def _append(self, build: Callable[[int], EdgeEvent]) -> None:
        event = build(self._sink.next_seq())
        try:
            await self._sink.append(event)
        except JournalFullError as exc:
            log.warning("event_refused", device=self.name, reason=str(exc))
        except JournalError as exc:
            self._metrics.journal_dropped.labels("write_error").inc()
            log.error("event_not_journalled", device=self.name, seq=event.seq, error=str(exc))
