"""``GET /overview/{plant}``: the plant overview page, plain HTML and JavaScript.

The page itself holds no data and is served without a token; its script reads the token from
the address (``#token=...``, never sent to the server) or from localStorage, and calls the
authenticated routes with it."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from api.params import PlantPath

router = APIRouter(tags=["overview"])


def _page() -> str:
    return resources.files("api").joinpath("static/overview.html").read_text(encoding="utf-8")


@router.get("/overview/{plant}", response_class=HTMLResponse,
            responses={200: {"content": {"text/html": {}}, "description": "The page."}})
async def overview(plant: PlantPath) -> HTMLResponse:
    """Current values, charts of the last hours, open alerts, device and link status."""
    return HTMLResponse(_page().replace("{{PLANT}}", plant),
                        headers={"Cache-Control": "no-store",
                                 "Content-Security-Policy": "default-src 'self'; "
                                 "style-src 'self' 'unsafe-inline'; "
                                 "script-src 'self' 'unsafe-inline'; img-src 'self' data:"})
