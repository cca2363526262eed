"""GET / and /status (the status page), its assets, and GET /status.json (the document the page polls).

The document is built once per store version, history slot and detail level and shared by every poller
(app/api/statuscache.py, kept in `Services`); a poller that already has it gets a 304. The page is static: HTML,
CSS and JS from app/static.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from functools import cache
from importlib import resources

from fastapi import APIRouter, Header, Request
from fastapi.responses import HTMLResponse, Response

from app.api.deps import DetailsDep, ServicesDep
from app.api.documents import status_body

router = APIRouter(tags=["status"])

GZIP_MIN = 1024  # bytes; smaller documents go out as they are
# The page loads nothing from anywhere but Vigil itself, and the browser enforces it.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_ASSETS = {
    "status.css": "text/css; charset=utf-8",
    "status.js": "text/javascript; charset=utf-8",
    "status-view.js": "text/javascript; charset=utf-8",
}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    media_type: str
    etag: str


@cache
def asset(name: str, media_type: str) -> Asset:
    """A file of app/static, read once (package data: it ships in the wheel)."""
    body = resources.files("app").joinpath("static", name).read_bytes()
    return Asset(body, media_type, f'"{hashlib.sha256(body).hexdigest()[:16]}"')


def _page() -> HTMLResponse:
    page = asset("status.html", "text/html; charset=utf-8")
    return HTMLResponse(
        page.body,
        headers={
            "content-security-policy": PAGE_POLICY,
            "cache-control": "no-cache",
            "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer",
        },
    )


@router.get("/", response_class=HTMLResponse, summary="The status page")
async def index() -> HTMLResponse:
    return _page()


@router.get("/status", response_class=HTMLResponse, summary="The status page (same as /)")
async def status_page() -> HTMLResponse:
    return _page()


@router.get("/status.css", include_in_schema=False)
@router.get("/status.js", include_in_schema=False)
@router.get("/status-view.js", include_in_schema=False)
async def status_asset(request: Request, if_none_match: str | None = Header(None)) -> Response:
    name = request.url.path.rsplit("/", 1)[-1]
    found = asset(name, _ASSETS[name])
    headers = {"etag": found.etag, "cache-control": "no-cache", "x-content-type-options": "nosniff"}
    if if_none_match == found.etag:
        return Response(status_code=304, headers=headers)
    return Response(found.body, media_type=found.media_type, headers=headers)


@router.get(
    "/status.json",
    summary="The status page's data: readiness and why, counts, transitions, every check with its history",
    responses={200: status_body("the page's data"), 304: {"description": "unchanged since If-None-Match"}},
)
async def status_json(
    services: ServicesDep,
    details: DetailsDep,
    if_none_match: str | None = Header(None),
    accept_encoding: str | None = Header(None),
) -> Response:
    rendered = await services.status.get(services.store, services.settings, details, services.turns)
    headers = {
        "etag": rendered.etag,
        "cache-control": "no-store",
        "vary": "Authorization, Accept-Encoding",
        "x-vigil-time": f"{time.time():.3f}",  # the page measures its clock's offset with it
    }
    if if_none_match == rendered.etag:
        return Response(status_code=304, headers=headers)
    body = rendered.body
    if accept_encoding and "gzip" in accept_encoding and len(body) >= GZIP_MIN:
        body = rendered.gzipped()
        headers["content-encoding"] = "gzip"
    return Response(body, media_type="application/json", headers=headers)
