"""The API's database access: one async connection pool, psycopg errors translated here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.rows import DictRow, dict_row, tuple_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from projections.errors import DatabaseUnavailableError, ProjectionError
from streams.settings import DatabaseSettings

Params = Sequence[Any] | Mapping[str, Any]


class Database:
    """A pool of autocommit connections whose ``search_path`` is the projections schema.

    Created in the app lifespan; opening does not wait for the server, so the API starts (and
    answers 503 on data routes) while the database is down."""

    def __init__(self, settings: DatabaseSettings, *, min_size: int = 1, max_size: int = 10,
                 timeout_s: float = 5.0, statement_timeout_ms: int = 15_000) -> None:
        options = (f"-c search_path={settings.schema_name},public "
                   f"-c statement_timeout={statement_timeout_ms} -c timezone=UTC")
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[DictRow]] = AsyncConnectionPool(
            settings.url, min_size=min(min_size, max_size), max_size=max_size, timeout=timeout_s,
            open=False, name="api",
            kwargs={"autocommit": True, "row_factory": dict_row, "options": options,
                    "connect_timeout": max(1, int(timeout_s))},
            connection_class=psycopg.AsyncConnection[DictRow])

    async def open(self) -> None:
        await self._pool.open(wait=False)

    async def close(self) -> None:
        await self._pool.close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[DictRow]]:
        """A pooled connection; psycopg errors leave as projections errors."""
        try:
            async with self._pool.connection() as conn:
                yield conn
        except PoolTimeout as exc:
            raise DatabaseUnavailableError(f"no database connection: {exc}") from exc
        except psycopg.errors.UndefinedTable as exc:
            raise DatabaseUnavailableError(
                f"projection views missing (run 'biogas projections migrate'): {exc}") from exc
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailableError(str(exc).strip()) from exc
        except psycopg.Error as exc:
            raise ProjectionError(f"database error: {str(exc).strip()}") from exc

    async def fetch_all(self, sql: str, params: Params | None = None) -> list[DictRow]:
        async with self.connection() as conn:
            cur = await conn.execute(sql.encode(), params)
            return await cur.fetchall()

    async def fetch_one(self, sql: str, params: Params | None = None) -> DictRow | None:
        async with self.connection() as conn:
            cur = await conn.execute(sql.encode(), params)
            return await cur.fetchone()

    async def fetch_tuples(self, sql: str, params: Params | None = None) -> list[tuple[Any, ...]]:
        """Rows as tuples over the binary protocol (cheapest for thousands of rows)."""
        async with self.connection() as conn:
            cur = conn.cursor(binary=True, row_factory=tuple_row)
            await cur.execute(sql.encode(), params)
            return await cur.fetchall()
