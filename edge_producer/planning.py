"""Coalesce tags into as few Modbus reads as possible, per device and poll group, and estimate
how long one poll cycle keeps the bus busy."""

from __future__ import annotations

import math
from dataclasses import dataclass

from edge_producer.config import DeviceConfig, PlantConfig, TagConfig
from edge_producer.datatypes import Table

#: Assumed time a device takes to answer once a request is on the wire (RTU) or the round
#: trip on a plant LAN (TCP). Real devices vary; ``plan`` states the assumption.
RTU_TURNAROUND_S = 0.005
TCP_ROUND_TRIP_S = 0.002


@dataclass(frozen=True)
class ReadRequest:
    """One read: ``count`` registers (or bits) of ``table`` from ``start``, serving ``tags``."""

    table: Table
    start: int
    count: int
    tags: tuple[TagConfig, ...]

    @property
    def end(self) -> int:
        return self.start + self.count


@dataclass(frozen=True)
class GroupPlan:
    """The reads of one device for one poll group."""

    device: str
    group: str
    interval_s: float
    requests: tuple[ReadRequest, ...]


def coalesce(tags: list[TagConfig], device: DeviceConfig) -> list[ReadRequest]:
    """Merge tags of one device into reads: per table, in address order, bridging gaps of at
    most ``device.max_gap`` unused registers (bits: 16x that) within the request size limit."""
    requests: list[ReadRequest] = []
    for table in Table:
        mine = sorted((t for t in tags if t.table is table), key=lambda t: (t.address, t.words))
        limit = device.max_bits if table.is_bits else device.max_registers
        gap = device.max_gap * 16 if table.is_bits else device.max_gap
        start = end = -1
        members: list[TagConfig] = []
        for tag in mine:
            tag_end = tag.address + tag.words
            if members and tag.address - end <= gap and max(end, tag_end) - start <= limit:
                end = max(end, tag_end)
                members.append(tag)
                continue
            if members:
                requests.append(ReadRequest(table, start, end - start, tuple(members)))
            start, end, members = tag.address, tag_end, [tag]
        if members:
            requests.append(ReadRequest(table, start, end - start, tuple(members)))
    return requests


def plan_plant(plant: PlantConfig) -> list[GroupPlan]:
    """Every device's reads per poll group, in config order."""
    plans = []
    for name, device in plant.devices.items():
        tags = plant.tags_of(name)
        for group, settings in plant.poll_groups.items():
            mine = [t for t in tags if t.group == group]
            if mine:
                plans.append(GroupPlan(name, group, settings.interval_s,
                                       tuple(coalesce(mine, device))))
    return plans


def _char_bits(device: DeviceConfig) -> int:
    return 1 + device.bytesize + (0 if device.parity == "N" else 1) + device.stopbits


def request_bus_time(request: ReadRequest, device: DeviceConfig) -> float:
    """Seconds one read keeps the link busy: frames on the wire, silent intervals, turnaround
    and the configured pause (RTU), or the round trip (TCP)."""
    if device.protocol == "tcp":
        return TCP_ROUND_TRIP_S + device.pause_s
    payload = math.ceil(request.count / 8) if request.table.is_bits else 2 * request.count
    request_bytes, response_bytes = 8, 5 + payload
    char_s = _char_bits(device) / device.baudrate
    silence_s = 2 * 3.5 * char_s if device.baudrate <= 19200 else 2 * 0.00175
    return ((request_bytes + response_bytes) * char_s + silence_s + RTU_TURNAROUND_S
            + device.pause_s)


def cycle_bus_time(plan: GroupPlan, device: DeviceConfig) -> float:
    return sum(request_bus_time(r, device) for r in plan.requests)


def bus_load(plans: list[GroupPlan], plant: PlantConfig) -> dict[str, float]:
    """Share of each link's time spent reading, summed over the poll groups that share it
    (RTU devices on one serial port share that bus)."""
    load: dict[str, float] = {}
    for plan in plans:
        device = plant.devices[plan.device]
        link = device.endpoint if device.protocol == "tcp" else str(device.serial_port)
        load[link] = load.get(link, 0.0) + cycle_bus_time(plan, device) / plan.interval_s
    return load
