"""``GET /health``: is the API up, and can it reach its database?"""

from __future__ import annotations

import asyncio
from typing import Literal

import psycopg
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from api.settings import ApiSettings

router = APIRouter()


class Health(BaseModel):
    """Liveness of the API and reachability of what it depends on."""

    status: Literal["ok", "degraded"]
    database: Literal["ok", "unreachable"]
    detail: str | None = None


async def _database_ok(settings: ApiSettings) -> str | None:
    try:
        conn = await asyncio.wait_for(
            psycopg.AsyncConnection.connect(settings.database.url, connect_timeout=3), 5)
    except (psycopg.Error, TimeoutError) as exc:
        return f"database: {type(exc).__name__}"
    try:
        await conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"database: {type(exc).__name__}"
    finally:
        await conn.close()
    return None


@router.get("/health", response_model=Health, tags=["health"],
            responses={503: {"model": Health, "description": "a dependency is unreachable"}})
async def health(request: Request, response: Response) -> Health:
    """Unauthenticated. 200 when the database answers, 503 otherwise."""
    settings: ApiSettings = request.app.state.settings
    problem = await _database_ok(settings)
    if problem is None:
        return Health(status="ok", database="ok")
    response.status_code = 503
    return Health(status="degraded", database="unreachable", detail=problem)
