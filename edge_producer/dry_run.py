"""Read every tag once (``biogas edge dry-run``) and read raw registers (``probe``), with the
same links, plans and decoding the producer uses, without a journal or a broker."""

from __future__ import annotations

import asyncio
from uuid import UUID, uuid4

from edge_producer.config import PlantConfig, TagConfig
from edge_producer.metrics import EdgeMetrics
from edge_producer.modbus_link import ModbusLink
from edge_producer.planning import plan_plant
from edge_producer.poller import DevicePoller
from streams.events import DeviceStatusChanged, EdgeEvent, Reading, ScanRecorded


class MemorySink:
    """Keeps events in memory (numbers them like the journal)."""

    def __init__(self, plant_id: str) -> None:
        self.plant_id = plant_id
        self.boot_id: UUID = uuid4()
        self.events: list[EdgeEvent] = []

    def next_seq(self) -> int:
        return len(self.events)

    async def append(self, event: EdgeEvent) -> None:
        self.events.append(event)


async def read_all(plant: PlantConfig) -> tuple[dict[str, Reading], list[DeviceStatusChanged]]:
    """Every tag's reading (devices in parallel) and the devices' status events."""
    sink = MemorySink(plant.plant_id)
    metrics = EdgeMetrics()
    plans = plan_plant(plant)

    async def one_device(name: str) -> None:
        device = plant.devices[name]
        poller = DevicePoller(name, device, [p for p in plans if p.device == name],
                              ModbusLink(device), sink, metrics)
        try:
            for plan in plans:
                if plan.device == name:
                    await poller.poll(plan)
        finally:
            poller.close()

    await asyncio.gather(*(one_device(name) for name in plant.devices))
    readings = {r.tag: r for e in sink.events if isinstance(e, ScanRecorded) for r in e.readings}
    ordered = {t.name: readings[t.name] for t in plant.tags if t.name in readings}
    return ordered, [e for e in sink.events if isinstance(e, DeviceStatusChanged)]


async def read_tag_words(plant: PlantConfig, tag: TagConfig, words: int) -> list[int]:
    """``words`` raw registers from the tag's address (for ``probe``)."""
    device = plant.devices[tag.device]
    link = ModbusLink(device)
    try:
        return await link.read(tag.table, tag.address, words, device.unit_id)
    finally:
        link.close()
