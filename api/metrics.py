"""``GET /metrics``: the API's requests in Prometheus text, counted by a plain ASGI middleware
(it does not buffer responses, so the server-sent event stream flows as before).

Requests are labelled by method, **route template** (``/plants/{plant_id}/latest``, never
the plant's id: no label grows with the data, and nothing of a plant shows to whoever can read
the metrics) and status code; unmatched paths count as ``unmatched``. A response that is a
stream (``/plants/{plant_id}/stream``) is timed until its headers are sent."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

router = APIRouter()


class ApiMetrics:
    """The API's metrics, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("api_requests", "Requests answered, by route and status.",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram(
            "api_request_seconds", "Time to the response's headers, by route.",
            ["method", "route"], registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


class MetricsMiddleware:
    """Counts every HTTP request into :class:`ApiMetrics` (held in ``app.state.metrics``)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]  # what is counted when the app fails before it answers

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
                self._count(scope, status[0], time.perf_counter() - started)
                status[0] = 0  # counted
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if status[0]:
                self._count(scope, status[0], time.perf_counter() - started)

    def _count(self, scope: Scope, status: int, seconds: float) -> None:
        route: Any = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        method = str(scope.get("method", ""))
        self.metrics.requests.labels(method, template, str(status)).inc()
        self.metrics.latency.labels(method, template).observe(seconds)


@router.get("/metrics", tags=["health"], response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}},
                             "description": "Prometheus text exposition"}})
async def metrics(request: Request) -> Response:
    """Unauthenticated, like ``/health``: request counts and latencies by route template."""
    registry: CollectorRegistry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
