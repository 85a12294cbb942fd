"""Errors as RFC 9457 problem details: every 4xx says what was wrong and how to fix it."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from projections.errors import DatabaseUnavailableError, ProjectionError
from streams.errors import BiogasError
from streams.logsetup import get_logger

PROBLEM_JSON = "application/problem+json"
log = get_logger("api.errors")


class Problem(BaseModel):
    """A problem details object (RFC 9457)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


class ApiProblemError(BiogasError):
    """Raised by routes to answer with a problem details response."""

    def __init__(self, status: int, title: str, detail: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = headers or {}


def problem_response(request: Request, status: int, title: str, detail: str | None = None,
                     errors: list[dict[str, Any]] | None = None,
                     headers: dict[str, str] | None = None) -> JSONResponse:
    body = Problem(title=title, status=status, detail=detail, instance=request.url.path,
                   errors=errors)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status,
                        media_type=PROBLEM_JSON, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as problem details; a bad request is a 4xx, never a 5xx."""

    @app.exception_handler(ApiProblemError)
    async def _api_problem(request: Request, exc: ApiProblemError) -> JSONResponse:
        return problem_response(request, exc.status, exc.title, exc.detail, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"location": ".".join(str(p) for p in err.get("loc", ())),
                   "message": err.get("msg", ""), "type": err.get("type", "")}
                  for err in exc.errors()]
        detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors)
        return problem_response(request, 422, "Invalid request", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        return problem_response(request, exc.status_code, title, str(exc.detail),
                                headers=getattr(exc, "headers", None))

    @app.exception_handler(DatabaseUnavailableError)
    async def _db_down(request: Request, exc: DatabaseUnavailableError) -> JSONResponse:
        log.warning("database_unavailable", path=request.url.path, error=str(exc)[:300])
        return problem_response(request, 503, "Database unavailable",
                                "the projection database cannot be reached; retry later",
                                headers={"Retry-After": "5"})

    @app.exception_handler(ProjectionError)
    async def _db_error(request: Request, exc: ProjectionError) -> JSONResponse:
        log.error("database_error", path=request.url.path, error=str(exc)[:500])
        return problem_response(request, 500, "Internal error",
                                "the query failed on the server; this is a bug, not your request")


_DESCRIPTIONS = {400: "Bad request", 401: "No or invalid bearer token",
                 403: "The token's role or plants do not allow this",
                 404: "No such resource", 409: "The resource is not in a state that allows this",
                 413: "Request body too large (BIOGAS_API_MAX_BODY_BYTES)",
                 422: "Invalid parameters or body",
                 503: "The database or the log is unavailable; retry later"}


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for problem-details answers with these status codes
    (401, 403, 422 and 503 are always included)."""
    wanted = sorted({401, 403, 422, 503, *codes})
    return {code: {"model": Problem, "description": _DESCRIPTIONS.get(code, "Error"),
                   "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
            for code in wanted}
