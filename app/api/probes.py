"""Kubelet probes: /livez (Vigil alive), /startupz (first runs done), /readyz and /ready (the watched system).

The plain forms are answered by the fast path in front of the app (app.api.front) with the functions here;
these routes serve the verbose/exclude/per-part forms and document every probe in OpenAPI.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from app.api.deps import DetailsDep, NotFound, StoreDep, select
from app.api.details import SHOWN, Details
from app.api.documents import BAD_REQUEST, NOT_FOUND, Responses, text
from app.engine.store import Store
from app.views.report import verbose_lines

router = APIRouter(tags=["probes"])

LIVENESS_STALL = 5.0  # seconds without a scheduler heartbeat before /livez fails


def live(store: Store) -> tuple[int, bytes]:
    if time.monotonic() - store.heartbeat > LIVENESS_STALL:
        return 503, b"scheduler loop stalled\n"
    return 200, b"ok\n"


def started(store: Store) -> tuple[int, bytes]:
    if store.startup_complete:
        return 200, b"ok\n"
    done = sum(1 for s in store.states.values() if s.last is not None)
    return 503, f"starting: {done} of {len(store.states)} checks have run once\n".encode()


def ready(store: Store) -> tuple[int, bytes]:
    if store.ready:
        return 200, b"ok\n"
    return 503, (b"shutting down\n" if store.shutting_down else b"not ready\n")


def _text(status: int, body: bytes | str) -> PlainTextResponse:
    return PlainTextResponse(body, status_code=status)


_NOT_READY: Responses = {503: text("not ready (a critical check is failing or pending, or Vigil is shutting down)")}


@router.get(
    "/livez",
    response_class=PlainTextResponse,
    responses={503: text("scheduler loop stalled")},
    summary="Vigil's own liveness (never depends on targets)",
)
async def livez(store: StoreDep) -> PlainTextResponse:
    return _text(*live(store))


@router.get(
    "/startupz",
    response_class=PlainTextResponse,
    responses={503: text("some checks have not run once yet")},
    summary="200 once every check has run once",
)
async def startupz(store: StoreDep) -> PlainTextResponse:
    return _text(*started(store))


Verbose = Annotated[str | None, Query(description="present: list every check, kube-apiserver style")]
Exclude = Annotated[list[str], Query(description="check id (component:check) to leave out; repeatable")]


def _readiness(
    store: Store,
    verbose: str | None,
    exclude: list[str],
    component: str | None,
    check: str | None,
    details: Details = SHOWN,
) -> PlainTextResponse:
    states = select(store, component, check)
    known = {str(s.check_id) for s in store.states.values()}
    unknown = [e for e in exclude if e not in known]
    if unknown:
        raise NotFound(f"unknown check id in exclude: {', '.join(unknown)}")
    whole = component is None
    if whole and not exclude and verbose is None:
        return _text(*ready(store))
    # The whole system follows the readiness rule (shutting down included); a part is ready when every check in it
    # is ok, whatever its severity (the strict form of the rule).
    ok, body = verbose_lines(
        states, set(exclude), strict=not whole, details=details.shown, shutting_down=whole and store.shutting_down
    )
    if verbose is None:
        body = "ok\n" if ok else "not ready\n"
    return _text(200 if ok else 503, body)


@router.get(
    "/readyz",
    response_class=PlainTextResponse,
    responses={**_NOT_READY, **NOT_FOUND, **BAD_REQUEST},
    summary="Readiness of the watched system (critical checks)",
)
async def readyz(
    store: StoreDep,
    details: DetailsDep,
    verbose: Verbose = None,
    exclude: Exclude = [],  # noqa: B006
) -> PlainTextResponse:
    return _readiness(store, verbose, exclude, None, None, details)


@router.get(
    "/ready",
    response_class=PlainTextResponse,
    responses={**_NOT_READY, **NOT_FOUND, **BAD_REQUEST},
    summary="Same as /readyz",
)
async def ready_alias(
    store: StoreDep,
    details: DetailsDep,
    verbose: Verbose = None,
    exclude: Exclude = [],  # noqa: B006
) -> PlainTextResponse:
    return _readiness(store, verbose, exclude, None, None, details)


@router.get(
    "/readyz/{component}",
    response_class=PlainTextResponse,
    responses={**_NOT_READY, **NOT_FOUND, **BAD_REQUEST},
    summary="Readiness of one component",
)
async def readyz_component(
    store: StoreDep,
    details: DetailsDep,
    component: str,
    verbose: Verbose = None,
    exclude: Exclude = [],  # noqa: B006
) -> PlainTextResponse:
    return _readiness(store, verbose, exclude, component, None, details)


@router.get(
    "/readyz/{component}/{check}",
    response_class=PlainTextResponse,
    responses={**_NOT_READY, **NOT_FOUND, **BAD_REQUEST},
    summary="Readiness of one check",
)
async def readyz_check(
    store: StoreDep,
    details: DetailsDep,
    component: str,
    check: str,
    verbose: Verbose = None,
    exclude: Exclude = [],  # noqa: B006
) -> PlainTextResponse:
    return _readiness(store, verbose, exclude, component, check, details)
