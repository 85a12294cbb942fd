"""Prometheus metrics of ``biogas models drift-watch``, in a registry of their own (not the
global one), served on ``/metrics`` by prometheus_client's threaded HTTP server."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from threading import Thread
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from streams.errors import ConfigError
from streams.events import ModelDriftMeasured

PlantModel = tuple[str, str]


class DriftMetrics:
    """The gauges of the last measurement of every (plant, model) the watch checks."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.psi = Gauge("biogas_model_feature_psi",
                         "PSI of one model input at one plant over the last window, against "
                         "the training distribution of the live version.",
                         ["plant", "model", "version", "feature"], registry=r)
        self.drifting = Gauge("biogas_model_drifting",
                              "1 when some input's PSI exceeds the threshold, else 0.",
                              ["plant", "model"], registry=r)
        self.rows = Gauge("biogas_model_drift_rows", "Model input rows in the last window.",
                          ["plant", "model"], registry=r)
        self.threshold = Gauge("biogas_model_drift_threshold",
                               "PSI above which a feature is drifting.", registry=r)
        self.last_run = Gauge("biogas_model_drift_last_run_timestamp_seconds",
                              "When the last drift-watch pass finished (Unix time).",
                              registry=r)
        self.failed_passes = Counter("biogas_model_drift_failed_passes",
                                     "Passes that could not finish (registry, database or "
                                     "broker unavailable); retried the next interval.",
                                     registry=r)
        self._psi_labels: dict[PlantModel, list[tuple[str, str, str, str]]] = {}

    def record(self, event: ModelDriftMeasured) -> None:
        """Set the gauges of one measurement (replacing the plant and model's previous
        version's series)."""
        key = (event.plant_id, event.model.model_id)
        self._forget_psi(key)
        labels = []
        for feature, value in event.psi.items():
            one = (*key, event.model.version, feature)
            self.psi.labels(*one).set(value)
            labels.append(one)
        self._psi_labels[key] = labels
        self.drifting.labels(*key).set(1 if event.drifting else 0)
        self.rows.labels(*key).set(event.rows)
        self.threshold.set(event.threshold)

    def finished(self, at: float, measured: Iterable[PlantModel]) -> None:
        """A pass finished at ``at`` (Unix time): series of the (plant, model) pairs it did not
        measure (undeployed, or no rows in the window) are dropped."""
        keep = set(measured)
        for key in [k for k in self._psi_labels if k not in keep]:
            self._forget_psi(key)
            self.drifting.remove(*key)
            self.rows.remove(*key)
        self.last_run.set(at)

    def _forget_psi(self, key: PlantModel) -> None:
        for labels in self._psi_labels.pop(key, []):
            self.psi.remove(*labels)


@dataclass
class MetricsServer:
    """A running ``/metrics`` server; ``stop`` shuts it down."""

    server: WSGIServer
    thread: Thread

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve_metrics(metrics: DriftMetrics, host: str, port: int) -> MetricsServer:
    """Serve the metrics on ``http://host:port/metrics`` (port 0: any free port)."""
    try:
        server, thread = start_http_server(port, addr=host, registry=metrics.registry)
    except OSError as exc:
        raise ConfigError(f"cannot serve /metrics on {host}:{port} ({exc.strerror}); set "
                          "BIOGAS_MODELS_DRIFT_METRICS_PORT (or --metrics-port) to a free "
                          "port, or 0 for none") from None
    return MetricsServer(server, thread)
