"""structlog configuration, done in one place for every process.

Services log JSON lines; on a terminal the output is readable. Third-party loggers (aiokafka,
faust, pymodbus, uvicorn, ...) go through the same processor chain via the stdlib bridge.
"""

from __future__ import annotations

import logging
import sys

import structlog

from streams.settings import LogSettings

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}


def configure_logging(settings: LogSettings, *, stream: object = None) -> None:
    """Route structlog and stdlib logging through one processor chain.

    ``format="auto"`` renders for humans when stderr is a terminal and JSON lines otherwise.
    """
    out = stream if stream is not None else sys.stderr
    is_tty = bool(getattr(out, "isatty", lambda: False)())
    as_json = settings.format == "json" or (settings.format == "auto" and not is_tty)
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: structlog.types.Processor
    if as_json:
        shared.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=is_tty)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(out)  # type: ignore[arg-type]
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS[settings.level])
    # Chatty third-party loggers stay at warning unless we debug.
    if settings.level != "debug":
        for name in ("aiokafka", "kafka", "faust", "mode", "pymodbus", "uvicorn.access"):
            logging.getLogger(name).setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structlog logger; log events with key-value fields, not sentences."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
