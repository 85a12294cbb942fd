"""Request planning, bus-time estimates, report-by-exception and the circuit breaker."""

from __future__ import annotations

import random
from typing import Any

import pytest

from edge_producer.breaker import BreakerState, CircuitBreaker
from edge_producer.config import PlantConfig
from edge_producer.datatypes import Table
from edge_producer.planning import bus_load, coalesce, cycle_bus_time, plan_plant
from edge_producer.reporting import ReportFilter
from streams.events import Quality, Reading


def plant(tags: list[dict[str, Any]], **device: Any) -> PlantConfig:
    dev = {"host": "h", **device}
    return PlantConfig.model_validate({
        "plant_id": "p", "devices": {"d": dev},
        "poll_groups": {"fast": {"interval_s": 1.0}, "slow": {"interval_s": 10.0}},
        "tags": [{"device": "d", "group": "fast", "register": "holding", **t} for t in tags]})


def reg(name: str, address: int, **kw: Any) -> dict[str, Any]:
    return {"name": name, "address": address, **kw}


def spans(p: PlantConfig) -> list[tuple[str, str, int, int]]:
    return [(gp.group, r.table.value, r.start, r.count)
            for gp in plan_plant(p) for r in gp.requests]


def test_neighbours_coalesce_and_gaps_split() -> None:
    p = plant([reg("a", 0), reg("b", 1, type="f32"), reg("c", 5), reg("d", 40)], max_gap=10)
    assert spans(p) == [("fast", "holding", 0, 6), ("fast", "holding", 40, 1)]


def test_gap_limit_zero_reads_only_adjacent_registers_together() -> None:
    p = plant([reg("a", 0), reg("b", 1), reg("c", 3)], max_gap=0)
    assert spans(p) == [("fast", "holding", 0, 2), ("fast", "holding", 3, 1)]


def test_request_size_limit_splits_long_runs() -> None:
    p = plant([reg(f"t{i}", i * 2, type="f32") for i in range(100)])  # 200 registers
    assert spans(p) == [("fast", "holding", 0, 124), ("fast", "holding", 124, 76)]
    p = plant([reg(f"t{i}", i) for i in range(10)], max_registers=4)
    assert [c for *_, c in spans(p)] == [4, 4, 2]


def test_tables_groups_and_bits_are_planned_apart() -> None:
    p = plant([reg("a", 0), reg("b", 0, register="input"),
               reg("c", 0, register="coil", type="bool"),
               reg("d", 150, register="coil", type="bool"),
               reg("e", 1, group="slow"), reg("w.b0", 0, type="bool", bit=0)])
    assert spans(p) == [("fast", "holding", 0, 1), ("fast", "input", 0, 1),
                        ("fast", "coil", 0, 151), ("slow", "holding", 1, 1)]
    fast = plan_plant(p)[0]
    assert [t.name for t in fast.requests[0].tags] == ["a", "w.b0"]


def test_every_tag_is_served_by_exactly_one_request() -> None:
    rng = random.Random(7)
    addresses = rng.sample(range(0, 3000, 2), 300)
    p = plant([reg(f"t{a}", a, type=rng.choice(["u16", "f32"])) for a in addresses])
    device = p.devices["d"]
    requests = coalesce(list(p.tags), device)
    served = [t.name for r in requests for t in r.tags]
    assert sorted(served) == sorted(t.name for t in p.tags)
    for r in requests:
        assert r.count <= 125
        assert all(r.start <= t.address and t.address + t.words <= r.end for t in r.tags)


def test_rtu_bus_time_follows_the_link_speed() -> None:
    tags = [reg(f"t{i}", i) for i in range(100)]
    slow = plant(tags, protocol="rtu", serial_port="/dev/ttyUSB0", baudrate=9600, host=None)
    fast = plant(tags, protocol="rtu", serial_port="/dev/ttyUSB0", baudrate=115200, host=None)
    t_slow = cycle_bus_time(plan_plant(slow)[0], slow.devices["d"])
    t_fast = cycle_bus_time(plan_plant(fast)[0], fast.devices["d"])
    # 8 + 205 bytes of 10 bits at 9600 baud is 0.222 s on the wire alone
    assert 0.22 < t_slow < 0.26
    assert t_fast < t_slow / 5
    assert bus_load(plan_plant(slow), slow) == {"/dev/ttyUSB0": pytest.approx(t_slow)}


def test_report_by_exception_with_deadband_and_max_silence() -> None:
    p = plant([reg("a", 0, deadband=0.5, max_silence_s=10), reg("b", 1)])
    f = ReportFilter(p.tags)

    def r(tag: str, value: float | None, q: Quality = Quality.GOOD) -> Reading:
        return Reading(tag=tag, value=value, quality=q)

    assert f.keep(r("a", 10.0), 0.0)
    assert not f.keep(r("a", 10.4), 1.0)
    assert f.keep(r("a", 10.6), 2.0)
    assert not f.keep(r("a", 10.6), 11.0)
    assert f.keep(r("a", 10.7), 12.0)  # silent 10 s: the fresh value goes out
    assert f.keep(r("a", None, Quality.COMM_FAIL), 13.0)
    assert not f.keep(r("a", None, Quality.COMM_FAIL), 14.0)
    assert f.keep(r("a", 10.7), 15.0)
    assert all(f.keep(r("b", 1.0), t) for t in (0.0, 1.0, 2.0))


def test_circuit_breaker_backs_off_exponentially_with_jitter() -> None:
    now = [0.0]
    b = CircuitBreaker(lambda: now[0], base_s=1.0, max_s=8.0, rng=random.Random(1))
    assert b.allow()
    delays = []
    for _ in range(6):
        b.failure()
        assert b.state is BreakerState.OPEN and not b.allow()
        delays.append(b.retry_at - now[0])
        now[0] = b.retry_at
        assert b.allow()
        assert b.state.value == "half_open"
    ceilings = [1, 2, 4, 8, 8, 8]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True)), delays
    b.success()
    assert b.state is BreakerState.CLOSED and b.allow()
    b.failure()
    assert b.retry_at - now[0] <= 1.0


def test_tables_know_their_function_codes() -> None:
    assert [t.function_code for t in Table] == [3, 4, 1, 2]
