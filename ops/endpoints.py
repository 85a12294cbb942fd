"""``/health`` (JSON) and ``/metrics`` (Prometheus text) over a minimal asyncio HTTP server,
the same for every service (edge producer, agents worker, projector).

``/health`` answers 200 with the report while its ``status`` is ``ok`` or ``degraded`` (working,
perhaps with a dependency down), 503 while ``starting`` or ``down``, so a container health
check or a load balancer needs nothing but the status code."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

#: ``status`` values of a ``/health`` report answered with 200 (``starting`` and ``down``: 503)
HEALTHY = ("ok", "degraded")


class EndpointError(Exception):
    """The endpoints cannot be served (the port is taken, the address is not ours)."""


class HealthServer:
    """Serves the two read-only endpoints; ``report`` builds the ``/health`` body."""

    def __init__(self, registry: CollectorRegistry, report: Callable[[], dict[str, Any]],
                 host: str, port: int) -> None:
        self._registry = registry
        self._report = report
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._sock: socket.socket | None = None

    @property
    def port(self) -> int:
        if self._sock is not None:
            return int(self._sock.getsockname()[1])
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    def bind(self) -> None:
        """Take the address now, before any event loop runs (a service that cannot serve its
        endpoints says so at once, not after it started its work)."""
        if self._sock is not None:
            return
        try:
            infos = socket.getaddrinfo(self._host, self._port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_PASSIVE)
            family, kind, proto, _, address = infos[0]
            sock = socket.socket(family, kind, proto)
        except OSError as exc:
            raise EndpointError(f"cannot serve /health and /metrics on {self._host}:"
                                f"{self._port} ({exc.strerror or exc})") from None
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(64)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise EndpointError(f"cannot serve /health and /metrics on {self._host}:"
                                f"{self._port} ({exc.strerror or exc})") from None
        self._sock = sock

    async def start(self) -> None:
        self.bind()
        self._server = await asyncio.start_server(self._handle, sock=self._sock)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            parts = request.split(b" ", 2)
            path = parts[1].split(b"?")[0] if len(parts) > 1 else b""
            if parts[0] != b"GET":
                status, ctype, body = "405 Method Not Allowed", "text/plain", b"GET only\n"
            elif path == b"/metrics":
                status, ctype = "200 OK", CONTENT_TYPE_LATEST
                body = generate_latest(self._registry)
            elif path == b"/health":
                report = self._report()
                status = ("200 OK" if report.get("status") in HEALTHY
                          else "503 Service Unavailable")
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
