"""The projector and rebuild as processes: settings built once, logging configured, SIGTERM and
SIGINT stop them gracefully (the current batch finishes or rolls back, nothing is skipped)."""

from __future__ import annotations

import asyncio
import signal

from projections.projector import Projector
from projections.rebuild import Rebuild, RebuildReport
from projections.settings import ProjectorSettings
from streams.gc_tuning import tune_for_streaming
from streams.logsetup import configure_logging


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


def run_projector(settings: ProjectorSettings) -> None:
    """Project the log into the live version until SIGTERM/SIGINT."""
    configure_logging(settings.log)
    tune_for_streaming()

    async def main() -> None:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        await Projector(settings, stop).run()

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
