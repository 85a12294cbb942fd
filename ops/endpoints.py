"""``/health`` (JSON) and ``/metrics`` (Prometheus text) over a minimal asyncio HTTP server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from edge_producer.errors import EdgeError
from edge_producer.metrics import EdgeMetrics


class HealthServer:
    """Serves the two read-only endpoints; ``report`` builds the ``/health`` body."""

    def __init__(self, metrics: EdgeMetrics, report: Callable[[], dict[str, Any]],
                 host: str, port: int) -> None:
        self._metrics = metrics
        self._report = report
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._handle, self._host, self._port)
        except OSError as exc:
            raise EdgeError(f"cannot serve /health and /metrics on {self._host}:{self._port} "
                            f"({exc.strerror}); choose another --metrics-port, or 0 for none"
                            ) from None

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            parts = request.split(b" ", 2)
            path = parts[1].split(b"?")[0] if len(parts) > 1 else b""
            if parts[0] != b"GET":
                status, ctype, body = "405 Method Not Allowed", "text/plain", b"GET only\n"
            elif path == b"/metrics":
                status, ctype = "200 OK", CONTENT_TYPE_LATEST
                body = generate_latest(self._metrics.registry)
            elif path == b"/health":
                report = self._report()
                status = "200 OK" if report.get("status") != "down" else "503 Service Unavailable"
                ctype, body = "application/json", orjson.dumps(report)
            else:
                status, ctype, body = "404 Not Found", "text/plain", b"try /health or /metrics\n"
            head = (f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ConnectionError):
            pass  # a client that hung up or sent garbage gets nothing
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
