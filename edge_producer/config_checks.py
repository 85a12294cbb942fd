"""Rules across the whole plant config: references, duplicates, overlaps, request limits.

Each problem is one line ``<key path>: <what is wrong>; <the fix>``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from edge_producer.config_parts import DeviceConfig, TagConfig
from edge_producer.datatypes import ValueType


@dataclass(frozen=True)
class _Plant:
    devices: Mapping[str, DeviceConfig]
    poll_groups: Mapping[str, object]
    tags: Sequence[TagConfig]


def _where(index: int, tag: TagConfig) -> str:
    return f"tags[{index}] ({tag.name})"


def plant_problems(devices: Mapping[str, DeviceConfig], poll_groups: Mapping[str, object],
                   tags: Sequence[TagConfig]) -> list[str]:
    """Every cross-reference problem of a plant's devices, poll groups and tags; empty when
    they are consistent."""
    plant = _Plant(devices, poll_groups, tags)
    problems: list[str] = []
    problems += _reference_problems(plant)
    problems += _duplicate_problems(plant)
    problems += _size_problems(plant)
    problems += _overlap_problems(plant)
    problems += _serial_problems(plant)
    return problems


def _serial_problems(plant: _Plant) -> list[str]:
    """Devices on one serial port share the bus: its line settings must agree."""
    problems = []
    first: dict[str, tuple[str, tuple[object, ...]]] = {}
    for name, device in plant.devices.items():
        if device.protocol != "rtu" or device.serial_port is None:
            continue
        line = (device.baudrate, device.parity, device.stopbits, device.bytesize)
        if device.serial_port not in first:
            first[device.serial_port] = (name, line)
        elif first[device.serial_port][1] != line:
            other = first[device.serial_port][0]
            problems.append(f"devices.{name}: shares {device.serial_port} with devices.{other} "
                            "but not its baudrate/parity/stopbits/bytesize; one bus has one "
                            "line setting")
    return problems


def _reference_problems(plant: _Plant) -> list[str]:
    problems = []
    devices = ", ".join(sorted(plant.devices))
    groups = ", ".join(sorted(plant.poll_groups))
    for i, tag in enumerate(plant.tags):
        if tag.device not in plant.devices:
            problems.append(f"{_where(i, tag)}.device: unknown device {tag.device!r}; "
                            f"use one of: {devices}, or add [devices.{tag.device}]")
        if tag.group not in plant.poll_groups:
            problems.append(f"{_where(i, tag)}.group: unknown poll group {tag.group!r}; "
                            f"use one of: {groups}, or add [poll_groups.{tag.group}]")
    return problems


def _duplicate_problems(plant: _Plant) -> list[str]:
    seen: dict[str, int] = {}
    problems = []
    for i, tag in enumerate(plant.tags):
        if tag.name in seen:
            problems.append(f"{_where(i, tag)}.name: duplicate tag name, first used by "
                            f"tags[{seen[tag.name]}]; give every tag its own name")
        else:
            seen[tag.name] = i
    return problems


def _size_problems(plant: _Plant) -> list[str]:
    problems = []
    for i, tag in enumerate(plant.tags):
        device = plant.devices.get(tag.device)
        if device is None:
            continue
        limit = device.max_bits if tag.table.is_bits else device.max_registers
        if tag.words > limit:
            problems.append(f"{_where(i, tag)}: needs {tag.words} registers but device "
                            f"{tag.device!r} reads at most {limit} per request; shorten "
                            "'length' or raise the device's 'max_registers'")
        if tag.address + tag.words > 65536:
            problems.append(f"{_where(i, tag)}.address: {tag.address} + {tag.words} "
                            "registers runs past address 65535")
    return problems


def _overlap_problems(plant: _Plant) -> list[str]:
    """Two tags may share a register only when both are bools on distinct bits."""
    problems = []
    by_table: dict[tuple[str, str], list[tuple[int, TagConfig]]] = defaultdict(list)
    for i, tag in enumerate(plant.tags):
        by_table[(tag.device, tag.table.value)].append((i, tag))
    for entries in by_table.values():
        entries.sort(key=lambda e: (e[1].address, e[0]))
        for pos, (i, tag) in enumerate(entries):
            for j, other in entries[pos + 1:]:
                if other.address >= tag.address + tag.words:
                    break
                if _may_share(tag, other):
                    continue
                problems.append(
                    f"{_where(j, other)}.address: {other.table} {other.address} overlaps "
                    f"tags[{i}] ({tag.name}) at {tag.address}..{tag.address + tag.words - 1}; "
                    "fix the address, type or length")
    return problems


def _may_share(a: TagConfig, b: TagConfig) -> bool:
    """Bits of one register may be read as bools next to each other and next to the whole
    register as a 16-bit integer (an alarm word and its flags)."""
    if a.address != b.address or (a.bit is None and b.bit is None):
        return False
    if a.bit is not None and b.bit is not None:
        return a.bit != b.bit
    whole = a if a.bit is None else b
    return whole.type in (ValueType.U16, ValueType.I16)
