"""Run the Faust worker of the agents in this process until SIGTERM/SIGINT."""

from __future__ import annotations

import faust

from agents.settings import AgentsSettings
from agents.worker import task_dump
from agents.worker.app import create_app
from agents.worker.stop_deadline import StopDeadline
from agents.worker.warmup import warm_up_kernels
from ops.endpoints import EndpointError
from ops.gc_tuning import tune_for_streaming
from streams.errors import ConfigError
from streams.logsetup import configure_logging, get_logger


class _Worker(faust.Worker):
    """Faust's worker; its SIGUSR1 dump of every task also says where each async generator
    (the agents and their streams) waits, which task stacks cannot show, and which partitions
    the consumer fetches. A stop signal arms :attr:`deadline`: a graceful stop that takes
    longer ends the process (:mod:`agents.worker.stop_deadline`)."""

    deadline: StopDeadline | None = None

    def _on_sigusr1(self) -> None:
        super()._on_sigusr1()
        self._dump()

    def _dump(self) -> None:
        task_dump.dump_worker(self.app, self.stderr)

    def _on_sigterm(self) -> None:
        if self.deadline is not None:
            self.deadline.arm("SIGTERM")
        super()._on_sigterm()

    def _on_sigint(self) -> None:
        if self.deadline is not None:
            self.deadline.arm("SIGINT")
        super()._on_sigint()


def run_worker(settings: AgentsSettings) -> None:
    """Configure logging, build the app and run its worker (blocks; exits the process)."""
    configure_logging(settings.log)
    get_logger("agents").info("agents_worker_starting", app_id=settings.app_id,
                              topic_prefix=settings.topic_prefix,
                              bootstrap_servers=settings.kafka.bootstrap_servers)
    app = create_app(settings)
    if app.endpoints is not None:  # a port in use is said at once, before any work starts
        try:
            app.endpoints.bind()
        except EndpointError as exc:
            raise ConfigError(f"{exc}: set BIOGAS_AGENTS_METRICS_PORT to a free port, or 0 "
                              "for none") from None
    get_logger("agents").info("kernels_ready", seconds=round(warm_up_kernels(), 2))
    tune_for_streaming()
    worker = _Worker(app, loglevel=settings.log.level, override_logging=False,
                     redirect_stdouts=False, quiet=True)
    worker.deadline = StopDeadline(settings.stop_timeout_s, worker._dump)
    worker.execute_from_commandline()
