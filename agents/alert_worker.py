"""The alert agent's message handling: anomalies and alert commands in, lifecycle events out.

State is one :class:`agents.alerts.incidents.PlantAlerts` per plant, saved after each message
once its output events are on the broker (see :mod:`agents.detect_worker` for the argument).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Protocol

from agents.alerts.incidents import PlantAlerts
from agents.deadletter import dead_letter
from agents.detect_worker import Message, Publish
from agents.errors import StateError
from streams.codec import decode, encode
from streams.errors import ContractError
from streams.events import AlertAcknowledged, AlertCommented, AnomalyDetected, EventBase
from streams.logsetup import get_logger
from streams.topics import Topics

log = get_logger("agents.alerts")
BY = "agents.alerts"


class KeyedStore(Protocol):
    """Plant alert states by plant id."""

    def load(self, key: str) -> bytes | None: ...

    async def save(self, key: str, partition: int, data: bytes) -> Awaitable[object]:
        """Keep ``data`` and start writing it to the log; resolves once the broker has it."""
        ...

    def keys(self) -> Iterable[str]: ...


class AlertWorker:
    """Turns anomalies into incidents, one alert each, for the plants of its partitions."""

    def __init__(self, topics: Topics, publish: Publish, store: KeyedStore, *,
                 clear_after_s: float, holdoff_s: float,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.topics, self.publish, self.store = topics, publish, store
        self.clear_after_s, self.holdoff_s = clear_after_s, holdoff_s
        self.clock = clock
        self.plants: dict[str, PlantAlerts] = {}

    def forget(self) -> None:
        self.plants.clear()

    def _state(self, plant_id: str, partition: int | None = None) -> PlantAlerts:
        state = self.plants.get(plant_id)
        if state is None:
            state = PlantAlerts(plant_id)
            try:
                saved = self.store.load(plant_id)
                if saved:
                    state = PlantAlerts.from_bytes(saved)
            except StateError as exc:
                log.error("alert_state_unreadable_starting_fresh", plant_id=plant_id,
                          error=str(exc))
            self.plants[plant_id] = state
        if partition is not None:
            state.partition = partition
        return state

    async def _emit(self, events: Iterable[EventBase]) -> None:
        pending: list[Awaitable[object]] = []
        for event in events:
            spec = self.topics.topic_for(event)
            pending.append(await self.publish(spec.name, self.topics.key_for(event),
                                              encode(event)))
        for fut in pending:
            await fut

    async def handle(self, msg: Message) -> None:
        try:
            if msg.value is None:
                raise ContractError("message has no value (tombstone)")
            event = decode(msg.value)
            if not isinstance(event, AnomalyDetected | AlertAcknowledged | AlertCommented):
                raise ContractError(f"a {event.event_type} event does not belong on "
                                    f"{msg.position.topic}")
        except ContractError as exc:
            letter = dead_letter(msg.position, msg.key, msg.value, reason=str(exc),
                                 error_type=type(exc).__name__, by=BY)
            log.warning("message_dead_lettered", topic=msg.position.topic,
                        offset=msg.position.offset, reason=letter.reason[:300])
            await self._emit([letter])
            return
        state = self._state(event.plant_id, msg.position.partition)
        if isinstance(event, AnomalyDetected):
            events = state.on_anomaly(event, self.clock(), holdoff_s=self.holdoff_s)
            await self._emit(events)
            for out in events:
                log.info("alert_" + out.event_type.removeprefix("alert_"),
                         alert_id=str(out.alert_id), plant_id=out.plant_id)
        elif isinstance(event, AlertAcknowledged) and not state.on_acknowledged(event):
            log.warning("ack_for_unknown_alert", alert_id=str(event.alert_id),
                        plant_id=event.plant_id)
        await self._save(event.plant_id, state)

    async def _save(self, plant_id: str, state: PlantAlerts) -> None:
        """Snapshot a plant's alerts and wait until the broker has it: the message that changed
        them is acknowledged only after this."""
        await (await self.store.save(plant_id, state.partition, state.to_bytes()))

    async def tick(self) -> None:
        """Clear the quiet alerts of every plant this worker holds."""
        now = self.clock()
        for plant_id in list(self.store.keys()):
            state = self._state(plant_id)
            if not state.incidents:
                continue
            cleared = state.tick(now, clear_after_s=self.clear_after_s,
                                 holdoff_s=self.holdoff_s)
            if cleared:
                await self._emit(cleared)
                for out in cleared:
                    log.info("alert_cleared", alert_id=str(out.alert_id), plant_id=plant_id)
                await self._save(plant_id, state)
