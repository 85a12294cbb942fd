"""``create_app``: the FastAPI application, built from one settings object."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.body_limit import BodyLimitMiddleware
from api.db import Database
from api.errors import install_error_handlers
from api.health import router as health_router
from api.metrics import ApiMetrics, MetricsMiddleware
from api.metrics import router as metrics_router
from api.overview import router as overview_router
from api.profiles import PlantProfiles, load_profiles
from api.publisher import CommandPublisher
from api.routes_alerts import router as alerts_router
from api.routes_commands import router as commands_router
from api.routes_kpis import router as kpis_router
from api.routes_process import router as process_router
from api.routes_stream import router as stream_router
from api.settings import ApiSettings
from streams.logsetup import get_logger
from streams.topics import Topics

log = get_logger("api.app")
_PUBLIC = ("/health", "/metrics", "/overview")
_DESCRIPTION = """Projections of the plant log: readings, anomalies, alerts, devices, KPIs;
commands (acknowledge, comment, lab results) become events on the log.

Every route except `/health`, `/metrics` and the overview page's static shell needs
`Authorization: Bearer <token>` (issue one with `biogas tokens issue`). The token's role decides
what it may read and command; every query is limited to the plants the token grants. Errors are
problem details (RFC 9457)."""


def create_app(settings: ApiSettings, profiles: PlantProfiles | None = None) -> FastAPI:
    """Build the app; nothing connects at import time. The pool and the command producer are
    created in the lifespan; ``profiles`` default to ``settings.plant_profiles``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.database, min_size=settings.pool_min_size,
                      max_size=settings.pool_max_size, timeout_s=settings.pool_timeout_s,
                      statement_timeout_ms=settings.statement_timeout_ms)
        publisher = CommandPublisher(settings.kafka, Topics(prefix=settings.topic_prefix))
        await db.open()
        app.state.db, app.state.publisher = db, publisher
        log.info("api_started", schema=settings.database.schema_name,
                 topic_prefix=settings.topic_prefix)
        try:
            yield
        finally:
            await publisher.close()
            await db.close()
            log.info("api_stopped")

    app = FastAPI(title="Biogas plant data API", version="0.2.0", description=_DESCRIPTION,
                  lifespan=lifespan)
    app.state.settings = settings
    app.state.profiles = profiles if profiles is not None else load_profiles(
        settings.plant_profiles)
    app.state.topics = Topics(prefix=settings.topic_prefix)
    app.state.metrics = metrics = ApiMetrics()
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    install_error_handlers(app)
    for router in (health_router, metrics_router, process_router, alerts_router,
                   commands_router, kpis_router, stream_router, overview_router):
        app.include_router(router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The schema with the bearer scheme required everywhere except the public routes."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description,
                         routes=app.routes)
    schema.setdefault("components", {})["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer",
                   "description": "A token from `biogas tokens issue`."}}
    for path, operations in schema.get("paths", {}).items():
        public = path.startswith(_PUBLIC)
        for operation in operations.values():
            operation["security"] = [] if public else [{"bearer": []}]
            if public:
                for code in ("401", "403"):
                    operation.get("responses", {}).pop(code, None)
    app.openapi_schema = schema
    return schema
