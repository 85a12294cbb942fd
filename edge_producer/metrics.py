"""Prometheus metrics of one edge producer, in a registry of its own (not the global one)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_BREAKER_VALUE = {"closed": 0, "half_open": 1, "open": 2}


@dataclass
class EdgeMetrics:
    """Every metric the edge producer exports on ``/metrics``."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.poll_latency = Histogram(
            "edge_poll_seconds", "Time to read one poll group of one device.", ["device"],
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r)
        self.polls = Counter("edge_polls", "Poll cycles by outcome.", ["device", "outcome"],
                             registry=r)
        self.exceptions = Counter("edge_modbus_exceptions",
                                  "Modbus exception replies by code.", ["device", "code"],
                                  registry=r)
        self.comm_failures = Counter("edge_comm_failures", "Timeouts and lost connections.",
                                     ["device", "kind"], registry=r)
        self.breaker = Gauge("edge_device_breaker_state",
                             "Device circuit breaker: 0 closed, 1 half-open, 2 open.",
                             ["device"], registry=r)
        self.journal_depth = Gauge("edge_journal_depth", "Events waiting to be forwarded.",
                                   registry=r)
        self.journal_age = Gauge("edge_journal_oldest_age_seconds",
                                 "Age of the oldest waiting event (0 when empty).", registry=r)
        self.journal_bytes = Gauge("edge_journal_bytes", "Size of the waiting events.",
                                   registry=r)
        self.journal_dropped = Counter("edge_journal_dropped",
                                       "Events dropped or refused because the journal was full.",
                                       ["policy"], registry=r)
        self.journal_commits = Counter("edge_journal_commits", "Group commits.", registry=r)
        self.forwarded = Counter("edge_forwarded_events", "Events acknowledged by the broker.",
                                 registry=r)
        self.forwarded_readings = Counter("edge_forwarded_readings",
                                          "Readings acknowledged by the broker.", registry=r)
        self.forward_lag = Gauge("edge_forward_lag_seconds",
                                 "Age of the newest event the broker acknowledged, when sent.",
                                 registry=r)
        self.broker_breaker = Gauge("edge_broker_breaker_state",
                                    "Broker circuit breaker: 0 closed, 1 half-open, 2 open.",
                                    registry=r)

    def set_device_breaker(self, device: str, state: str) -> None:
        self.breaker.labels(device).set(_BREAKER_VALUE[state])

    def set_broker_breaker(self, state: str) -> None:
        self.broker_breaker.set(_BREAKER_VALUE[state])
