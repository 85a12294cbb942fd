"""The one module that talks psycopg directly: connections, and translation of its errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from projections.errors import DatabaseUnavailableError, ProjectionError
from streams.settings import DatabaseSettings


@contextmanager
def connect(settings: DatabaseSettings, *, autocommit: bool = False,
            connect_timeout_s: int = 10) -> Iterator[psycopg.Connection]:
    """A connection whose ``search_path`` is the configured schema; errors are translated."""
    try:
        conn = psycopg.connect(settings.url, autocommit=autocommit,
                               connect_timeout=connect_timeout_s)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailableError(f"cannot connect to {_redact(settings.url)}: {exc}") \
            from exc
    try:
        with conn:
            conn.execute(f'SET search_path TO "{settings.schema_name}", public')
            yield conn
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailableError(str(exc)) from exc
    except psycopg.Error as exc:
        raise ProjectionError(f"database error: {exc}") from exc
    finally:
        conn.close()


def _redact(url: str) -> str:
    """The URL without its password, for error messages and logs."""
    head, sep, tail = url.partition("@")
    if not sep or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, creds = head.partition("//")
    user = creds.split(":", 1)[0]
    return f"{scheme}//{user}:***@{tail}"
