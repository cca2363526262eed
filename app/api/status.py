"""GET / and /status (the status page), its assets, and GET /status.json (the document the page polls).

The document is built once per store version, history slot and detail level, encoded once, and shared by
every poller; a poller that already has it gets a 304. The page is static: HTML, CSS and JS from app/static.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import HTMLResponse, Response

from app.api.deps import SettingsDep, StoreDep, Turns, TurnsDep, VerifierDep
from app.api.health import _details
from app.config.settings import Settings
from app.engine.history import SLOT
from app.engine.singleflight import SingleFlight
from app.engine.store import Store
from app.views.report import encode
from app.views.statusview import RowMemo, build

router = APIRouter(tags=["status"])

GZIP_MIN = 1024  # bytes; smaller documents go out as they are
WARM_SLICE = 0.01  # seconds of row building between two yields to the event loop
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


@dataclass(slots=True)
class Rendered:
    """One encoded document and the key it was built for."""

    key: tuple[int, int]  # (store version, history slot)
    body: bytes
    etag: str
    _gzipped: bytes | None = None

    def gzipped(self) -> bytes:
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.body, compresslevel=5, mtime=0)
        return self._gzipped


@dataclass
class StatusCache:
    """Per app (see `status_cache`): the last document per detail level, the build in flight per detail level
    (pollers arriving meanwhile wait for it), and the per-check row memo."""

    memo: RowMemo = field(default_factory=RowMemo)
    instance: str = field(default_factory=lambda: secrets.token_hex(4))  # in ETags: a restarted Vigil starts at 0
    builds: int = 0  # documents built so far (tests read it)
    _docs: dict[bool, Rendered] = field(default_factory=dict)
    _flights: dict[bool, SingleFlight[Rendered]] = field(default_factory=dict)

    @staticmethod
    def key(store: Store, now: float) -> tuple[int, int]:
        # The slot too: availability windows and bar cells move with time even when no result arrives.
        return store.version, int(now // SLOT)

    def current(self, store: Store, details: bool, now: float) -> Rendered | None:
        hit = self._docs.get(details)
        return hit if hit is not None and hit.key == self.key(store, now) else None

    async def get(self, store: Store, settings: Settings, details: bool, turns: Turns) -> Rendered:
        """The current document, built at most once per key whoever asks; concurrent askers share one build."""
        hit = self.current(store, details, time.time())
        if hit is not None:
            return hit
        flight = self._flights.setdefault(details, SingleFlight())
        return await flight.do(lambda: self._refresh(store, settings, details, turns))

    async def _refresh(self, store: Store, settings: Settings, details: bool, turns: Turns) -> Rendered:
        # Rows of checks that changed are computed a slice at a time, yielding in between, so a large store (or a
        # new history slot, when every availability is read again) never holds check replies and probes back.
        began = time.monotonic()
        for state in list(store.states.values()):
            self.memo.row(state, time.time(), details=details)
            if time.monotonic() - began > WARM_SLICE:
                await asyncio.sleep(0)
                began = time.monotonic()
        # Then the document in one go, consistent with one store version (rows that changed meanwhile are redone).
        async with turns.turn():
            now = time.time()
            return self.current(store, details, now) or self.render(store, settings, details, now)

    def render(self, store: Store, settings: Settings, details: bool, now: float) -> Rendered:
        key = self.key(store, now)
        document = build(
            store,
            now,
            details=details,
            memo=self.memo,
            runs_enabled=settings.auth is not None,
            show_details=settings.server.show_details.value,
        )
        body = encode(document).encode()
        rendered = Rendered(key, body, f'"{self.instance}-{key[0]}-{key[1]}-{"d" if details else "s"}"')
        self._docs[details] = rendered
        self.builds += 1
        return rendered


async def status_cache(request: Request) -> StatusCache:
    """The app's cache, made on first use (async: it runs on the event loop, so two first requests cannot race)."""
    cache_ = getattr(request.app.state, "status_cache", None)
    if not isinstance(cache_, StatusCache):
        cache_ = StatusCache()
        request.app.state.status_cache = cache_
    return cache_


StatusCacheDep = Annotated[StatusCache, Depends(status_cache)]


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
    responses={200: {"content": {"application/json": {}}}, 304: {"description": "unchanged since If-None-Match"}},
)
async def status_json(
    store: StoreDep,
    settings: SettingsDep,
    verifier: VerifierDep,
    turns: TurnsDep,
    cache_: StatusCacheDep,
    authorization: str | None = Header(None),
    if_none_match: str | None = Header(None),
    accept_encoding: str | None = Header(None),
) -> Response:
    details = _details(settings, verifier, authorization)
    rendered = await cache_.get(store, settings, details, turns)
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
