"""The projector and rebuild as processes: settings built once, logging configured, SIGTERM and
SIGINT stop them gracefully (the current batch finishes or rolls back, nothing is skipped)."""

from __future__ import annotations

import asyncio
import signal

from ops.endpoints import EndpointError, HealthServer
from ops.gc_tuning import tune_for_streaming
from projections.health import ProjectorHealth
from projections.projector import Projector
from projections.rebuild import Rebuild, RebuildReport
from projections.settings import ProjectorSettings
from streams.errors import ConfigError
from streams.logsetup import configure_logging, get_logger

log = get_logger("projections")


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


def run_projector(settings: ProjectorSettings) -> None:
    """Project the log into the live version until SIGTERM/SIGINT, serving ``/health`` and
    ``/metrics`` on ``metrics_port`` (unless 0)."""
    configure_logging(settings.log)
    tune_for_streaming()
    stop = asyncio.Event()
    projector = Projector(settings, stop)
    endpoints = None
    if settings.metrics_port:
        health = ProjectorHealth(projector.progress, projector.log_ends)
        endpoints = HealthServer(health.registry, health.report, settings.metrics_host,
                                 settings.metrics_port)
        try:  # a port in use is said at once, before any work starts
            endpoints.bind()
        except EndpointError as exc:
            raise ConfigError(f"{exc}: set BIOGAS_PROJECTOR_METRICS_PORT to a free port, or 0 "
                              "for none") from None

    async def main() -> None:
        _stop_on_signals(stop)
        if endpoints is not None:
            await endpoints.start()
            log.info("projector_endpoints_serving", host=settings.metrics_host,
                     port=endpoints.port)
        try:
            await projector.run()
        finally:
            if endpoints is not None:
                await endpoints.stop()

    asyncio.run(main())


def run_rebuild(settings: ProjectorSettings, *, show_progress: bool,
                keep_old: bool) -> RebuildReport:
    """Replay into a new version and swap to it; SIGTERM/SIGINT abandon the new version."""
    configure_logging(settings.log)

    async def main() -> RebuildReport:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        return await Rebuild(settings, stop, show_progress=show_progress,
                             keep_old=keep_old).run()

    return asyncio.run(main())
