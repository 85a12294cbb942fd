"""The edge producer process: pollers, journal, forwarder, heartbeats, health server.

:class:`EdgeRuntime` is started and stopped by ``biogas edge run`` (on SIGTERM/SIGINT) and by
the tests. Stopping is graceful: pollers stop, a last heartbeat is journalled, the forwarder gets
``drain_on_stop_s`` to send what waits, and the journal commits everything queued.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from edge_producer.catalogue import tags_configured
from edge_producer.config import DeviceConfig, PlantConfig
from edge_producer.errors import EdgeError
from edge_producer.forwarder import Forwarder
from edge_producer.journal import Journal
from edge_producer.metrics import EdgeMetrics
from edge_producer.modbus_link import ModbusLink
from edge_producer.planning import plan_plant
from edge_producer.poller import DevicePoller
from edge_producer.settings import EdgeSettings
from ops.endpoints import EndpointError, HealthServer
from streams.events import DeviceStatus, EdgeHeartbeat
from streams.logsetup import get_logger
from streams.topics import Topics

log = get_logger(__name__)


def with_overrides(plant: PlantConfig, settings: EdgeSettings) -> PlantConfig:
    """The plant with ``modbus_host``/``modbus_port`` applied to every TCP device."""
    update: dict[str, Any] = {}
    if settings.modbus_host:
        update["host"] = settings.modbus_host
    if settings.modbus_port:
        update["port"] = settings.modbus_port
    if not update:
        return plant
    devices = {name: d.model_copy(update=update) if d.protocol == "tcp" else d
               for name, d in plant.devices.items()}
    return plant.model_copy(update={"devices": devices})


class EdgeRuntime:
    """Everything one edge producer runs, wired together."""

    def __init__(self, plant: PlantConfig, settings: EdgeSettings, *,
                 boot_id: UUID | None = None) -> None:
        self.plant = with_overrides(plant, settings)
        self.settings = settings
        self.boot_id = boot_id or uuid4()
        self.metrics = EdgeMetrics()
        self.topics = Topics(prefix=settings.topic_prefix)
        self.journal = Journal(settings.journal, self.plant.plant_id, self.boot_id,
                               self.plant.journal, self.metrics,
                               durable=settings.journal_durable, on_drop=self._on_drop)
        self.forwarder = Forwarder(
            self.journal, settings.kafka, self.topics, self.metrics,
            batch_rows=settings.forward_batch,
            compression="gzip" if settings.compression == "gzip" else "",
            send_timeout_s=settings.forward_timeout_s)
        self.pollers: list[DevicePoller] = []
        self.health: HealthServer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._forward_task: asyncio.Task[None] | None = None
        self._drop_now = asyncio.Event()

    async def start(self) -> None:
        await self.journal.open()
        # Downstream learns units, ranges and poll intervals from the catalogue, journalled
        # first so it is delivered before this boot's first scan.
        await self.journal.append(tags_configured(self.plant, self.boot_id,
                                                  self.journal.next_seq()))
        if self.settings.metrics_port:
            self.health = HealthServer(self.metrics.registry, self.report,
                                       self.settings.metrics_host, self.settings.metrics_port)
            try:
                await self.health.start()
            except EndpointError as exc:
                await self.journal.close()
                raise EdgeError(f"{exc}; choose another --metrics-port, or 0 for none"
                                ) from None
        links: dict[str, ModbusLink] = {}
        plans = plan_plant(self.plant)
        for name, device in self.plant.devices.items():
            mine = [p for p in plans if p.device == name]
            if not mine:
                continue
            link = links.setdefault(_link_key(name, device), ModbusLink(device))
            poller = DevicePoller(name, device, mine, link, self.journal, self.metrics,
                                  backoff_max_s=self.settings.device_backoff_max_s)
            self.pollers.append(poller)
            self._tasks.append(asyncio.create_task(poller.run(), name=f"poll-{name}"))
        self._tasks.append(asyncio.create_task(self._heartbeats(), name="heartbeats"))
        self._forward_task = asyncio.create_task(self.forwarder.run(), name="forwarder")
        for task in [*self._tasks, self._forward_task]:
            task.add_done_callback(_report_crash)
        log.info("edge_started", plant_id=self.plant.plant_id, boot_id=str(self.boot_id),
                 devices=len(self.pollers), journal=str(self.settings.journal))

    async def stop(self) -> None:
        await cancel_until_done(self._tasks)
        self._tasks.clear()
        try:
            await self.heartbeat()
        except EdgeError as exc:
            log.warning("last_heartbeat_failed", error=str(exc))
        if self._forward_task is not None:
            if not self._forward_task.done():
                await self.journal.wait_empty(self.settings.drain_on_stop_s)
            await cancel_until_done([self._forward_task])
            self._forward_task = None
        if self.health is not None:
            await self.health.stop()
        await self.journal.close()
        log.info("edge_stopped", plant_id=self.plant.plant_id,
                 waiting=self.journal.stats().depth)

    async def heartbeat(self) -> None:
        stats = self.journal.stats()
        await self.journal.append(EdgeHeartbeat(
            plant_id=self.plant.plant_id, edge_boot_id=self.boot_id,
            seq=self.journal.next_seq(), sent_at=datetime.now(UTC),
            journal_depth=stats.depth, journal_oldest_age_s=stats.oldest_age_s,
            journal_bytes=stats.bytes, dropped_total=stats.dropped_total))

    async def _heartbeats(self) -> None:
        while True:
            self._drop_now.clear()
            await self.heartbeat()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drop_now.wait(), self.settings.heartbeat_interval_s)

    def _on_drop(self, _dropped_total: int) -> None:
        self._drop_now.set()  # the next heartbeat goes out now and carries the count

    def report(self) -> dict[str, Any]:
        """The ``/health`` body."""
        stats = self.journal.stats()
        devices = {p.name: (p.status.value if p.status else "unknown") for p in self.pollers}
        broker = self.forwarder.breaker.state.value
        online = [s for s in devices.values() if s == DeviceStatus.ONLINE.value]
        status = "ok" if broker == "closed" and len(online) == len(devices) else "degraded"
        return {"status": status, "plant_id": self.plant.plant_id,
                "boot_id": str(self.boot_id), "devices": devices, "broker": broker,
                "journal": {"depth": stats.depth, "oldest_age_s": stats.oldest_age_s,
                            "bytes": stats.bytes, "dropped_total": stats.dropped_total},
                "forwarded": self.forwarder.forwarded}


def _report_crash(task: asyncio.Task[None]) -> None:
    """A task that ends by itself is a bug: say so loudly (it is never silently gone)."""
    if not task.cancelled() and task.exception() is not None:
        log.error("task_crashed", task=task.get_name(), error=repr(task.exception()),
                  exc_info=task.exception())


async def cancel_until_done(tasks: list[asyncio.Task[None]], *, every_s: float = 1.0) -> None:
    """Cancel ``tasks`` and wait until they have ended, cancelling again those still running
    every ``every_s``: on Python 3.11 ``asyncio.wait_for`` (which pymodbus awaits under every
    read) loses a cancellation that arrives as its inner future completes, and the task then
    goes on as if never cancelled (a poller still polling, a stop waiting for ever)."""
    pending = {t for t in tasks if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=every_s)


def _link_key(name: str, device: DeviceConfig) -> str:
    """Devices on one serial port share its bus (one client); TCP devices get their own."""
    return f"rtu:{device.serial_port}" if device.protocol == "rtu" else f"tcp:{name}"
