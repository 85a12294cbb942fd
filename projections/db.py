"""The one module that talks psycopg directly: connections, and translation of its errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from projections.errors import DatabaseUnavailableError, LockTimeoutError, ProjectionError
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


def open_connection(settings: DatabaseSettings, *, connect_timeout_s: int = 10,
                    application_name: str = "biogas") -> psycopg.Connection:
    """A long-lived autocommit connection (the caller opens transactions and closes it) whose
    ``search_path`` is the configured schema alone, so projection tables never resolve to a
    same-named table in ``public``; errors are translated."""
    with translated():
        try:
            conn = psycopg.connect(settings.url, autocommit=True,
                                   connect_timeout=connect_timeout_s,
                                   application_name=application_name)
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailableError(
                f"cannot connect to {_redact(settings.url)}: {exc}") from exc
        try:
            conn.execute(f'SET search_path TO "{settings.schema_name}"')
        except BaseException:
            conn.close()
            raise
        return conn


@contextmanager
def translated() -> Iterator[None]:
    """Translate psycopg errors raised in the block: connection loss, server shutdown,
    serialization failures and lock timeouts become :class:`DatabaseUnavailableError`
    (transient); any other database error a :class:`ProjectionError`."""
    try:
        yield
    except psycopg.errors.LockNotAvailable as exc:
        raise LockTimeoutError(str(exc).strip()) from exc
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailableError(str(exc).strip()) from exc
    except psycopg.Error as exc:
        raise ProjectionError(f"database error: {str(exc).strip()}") from exc


def _redact(url: str) -> str:
    """The URL without its password, for error messages and logs."""
    head, sep, tail = url.partition("@")
    if not sep or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, creds = head.partition("//")
    user = creds.split(":", 1)[0]
    return f"{scheme}//{user}:***@{tail}"
