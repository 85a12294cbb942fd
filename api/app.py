"""``create_app``: the FastAPI application, built from one settings object."""

from __future__ import annotations

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.health import router as health_router
from api.settings import ApiSettings


def create_app(settings: ApiSettings) -> FastAPI:
    """Build the app; nothing connects at import time."""
    app = FastAPI(title="Biogas plant data API", version="0.1.0",
                  description="Projections of the plant log: readings, anomalies, alerts.")
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(health_router)
    return app
