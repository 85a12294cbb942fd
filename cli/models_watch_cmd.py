"""``biogas models drift-watch``: the standing drift check, until Ctrl-C or for one pass."""

from __future__ import annotations

import asyncio
import re
import signal
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from modelops.drift_metrics import DriftMetrics, MetricsServer, serve_metrics
from modelops.drift_watch import DriftWatch, PassReport
from modelops.registry import open_registry
from modelops.settings import load_settings
from streams.errors import ConfigError
from streams.logsetup import configure_logging, get_logger

console = Console()
log = get_logger("cli.models.drift_watch")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400}
EXIT_DRIFTING, EXIT_CONFIG, EXIT_FAILED = 1, 2, 3


def duration_s(text: str, option: str) -> float:
    """Seconds of a duration like ``90s``, ``15m``, ``1h``, ``2d`` or ``3600``."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if match is None or float(match[1]) <= 0:
        raise ConfigError(f"{option} {text!r}: use a duration above 0 such as 90s, 15m, 1h, "
                          "2d, or plain seconds")
    return float(match[1]) * _UNITS[match[2]]


def _exit(message: str, code: int) -> typer.Exit:
    console.print(f"[red]{message}[/red]")
    return typer.Exit(code)


def drift_watch(
    interval: Annotated[str | None, typer.Option(
        help="time between passes, e.g. 1h, 15m, 3600 (default BIOGAS_MODELS_DRIFT_INTERVAL_S"
             ", 1h); windows end on its multiples")] = None,
    window: Annotated[str | None, typer.Option(
        help="model inputs each pass checks, e.g. 24h (default "
             "BIOGAS_MODELS_DRIFT_WINDOW_S, 24h)")] = None,
    metrics_port: Annotated[int | None, typer.Option(
        min=0, max=65535, help="port of /metrics (default BIOGAS_MODELS_DRIFT_METRICS_PORT, "
                               "9109); 0 serves none")] = None,
    once: Annotated[bool, typer.Option(
        "--once", help="one pass, then exit (for cron): exit 0 when nothing drifts, 1 when "
                       "something drifts, 3 when the pass failed")] = False,
) -> None:
    """Every interval, PSI of every live model's inputs at every plant it serves over the last
    window: ModelDriftMeasured events, drift alerts and Prometheus gauges. Until Ctrl-C."""
    overrides: dict[str, Any] = {}
    try:
        if interval is not None:
            overrides["drift_interval_s"] = duration_s(interval, "--interval")
        if window is not None:
            overrides["drift_window_s"] = duration_s(window, "--window")
        if metrics_port is not None:
            overrides["drift_metrics_port"] = metrics_port
        settings = load_settings(**overrides)
        configure_logging(settings.log)
        watch = DriftWatch(settings, open_registry(settings), DriftMetrics())
    except ConfigError as exc:
        raise _exit(str(exc), EXIT_CONFIG) from None
    log.info("drift_watch_started", interval_s=settings.drift_interval_s,
             window_s=settings.drift_window_s, threshold=settings.drift_threshold,
             registry=watch.registry_location, once=once)
    if once:
        report = asyncio.run(watch.check_once())
        if report.failed is not None:
            raise _exit(f"drift pass failed: {report.failed}", EXIT_FAILED)
        _summary(report)
        if report.drifting:
            raise typer.Exit(EXIT_DRIFTING)
        return
    server: MetricsServer | None = None
    try:
        if settings.drift_metrics_port:
            server = serve_metrics(watch.metrics, settings.drift_metrics_host,
                                   settings.drift_metrics_port)
            log.info("drift_metrics_serving",
                     url=f"http://{settings.drift_metrics_host}:{server.port}/metrics")
        asyncio.run(_until_signalled(watch))
    except ConfigError as exc:
        raise _exit(str(exc), EXIT_CONFIG) from None
    finally:
        if server is not None:
            server.stop()
    log.info("drift_watch_stopped")


async def _until_signalled(watch: DriftWatch) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await watch.run(stop)


def _summary(report: PassReport) -> None:
    w = report.window
    if not report.measured and not report.skipped:
        console.print(f"nothing checked between {w.start.isoformat()} and {w.end.isoformat()}:"
                      " no live deployment, or no plant with readings in the window")
        return
    table = Table(title=f"drift {w.start.isoformat()} .. {w.end.isoformat()}")
    for col in ("plant", "model", "version", "rows", "worst input", "PSI", "drifting"):
        table.add_column(col)
    for m in report.measured:
        worst = max(m.psi, key=lambda k: m.psi[k])
        table.add_row(m.plant_id, m.model.model_id, m.model.version, str(m.rows), worst,
                      f"{m.psi[worst]:.4f}", "[red]yes[/red]" if m.drifting else "no")
    console.print(table)
    for target, reason in report.skipped:
        console.print(f"skipped {target.model_id} version {target.version} at "
                      f"{target.plant_id}: {reason}")
