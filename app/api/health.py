"""GET /health[/component[/check]]: health+json, 200 for pass/warn and 503 for fail (the draft's rule).

How much unauthenticated callers see follows `server.show_details` (Spring Boot Actuator's rule).
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse, Response

from app.api.auth import AuthError
from app.api.deps import EntriesDep, SettingsDep, StoreDep, TurnsDep, VerifierDep, select
from app.api.documents import BAD_REQUEST, NOT_FOUND, Responses, health_body
from app.config.settings import ShowDetails
from app.engine.store import CheckState, Store
from app.views.report import HEALTH_JSON, EntryMemo, encoded_health

router = APIRouter(tags=["health"])
WARM_SLICE = 0.01  # seconds of member encoding between two yields to the event loop
_RESPONSES: Responses = {
    200: health_body("pass or warn"),
    503: health_body("fail"),
    **NOT_FOUND,
    **BAD_REQUEST,
}


class HealthResponse(JSONResponse):
    """Documents the routes' media type; the body is encoded by `encoded_health` (app.views.report)."""

    media_type = HEALTH_JSON


def _details(settings: SettingsDep, verifier: VerifierDep, authorization: str | None) -> bool:
    mode = settings.server.show_details
    if mode is ShowDetails.ALWAYS:
        return True
    if mode is ShowDetails.NEVER or authorization is None or not verifier.enabled:
        return False
    try:
        verifier.verify(authorization, require_scope=False)
    except AuthError:
        return False
    return True


Group = Annotated[
    Literal["area"] | None, Query(description="`area`: add the verdict per area (production-readiness view)")
]


async def _health(
    store: StoreDep,
    settings: SettingsDep,
    verifier: VerifierDep,
    entries: EntriesDep,
    turns: TurnsDep,
    authorization: str | None,
    component: str | None = None,
    check: str | None = None,
    group: str | None = None,
) -> Response:
    states = select(store, component, check)
    details = _details(settings, verifier, authorization)
    if details:
        await _warm(store, states, entries)
    async with turns.turn():
        # The whole system follows readiness (degraded checks only warn); a named part reports its own worst state.
        status, body = encoded_health(
            store, states, entries, details=details, strict=component is not None, group=group
        )
    return Response(body, status_code=status, media_type=HEALTH_JSON, headers={"cache-control": "no-store"})


async def _warm(store: Store, states: list[CheckState], entries: EntryMemo) -> None:
    """Bring the members that changed up to date a slice at a time, yielding in between: once a minute every
    availability moves (a new history slot) and all of them are encoded again, about 30 ms at 1,000 checks, which
    must not hold check replies and probes back in one piece. The document is then joined in one go."""
    began = time.monotonic()
    for state in states:
        entries.member(store, state, time.time())
        if time.monotonic() - began > WARM_SLICE:
            await asyncio.sleep(0)
            began = time.monotonic()


@router.get(
    "/health",
    response_class=HealthResponse,
    responses=_RESPONSES,
    summary="Health of every check (application/health+json)",
)
async def health(
    store: StoreDep,
    settings: SettingsDep,
    verifier: VerifierDep,
    turns: TurnsDep,
    entries: EntriesDep,
    authorization: str | None = Header(None),
    group: Group = None,
) -> Response:
    return await _health(store, settings, verifier, entries, turns, authorization, group=group)


@router.get(
    "/health/{component}", response_class=HealthResponse, responses=_RESPONSES, summary="Health of one component"
)
async def health_component(
    component: str,
    store: StoreDep,
    settings: SettingsDep,
    verifier: VerifierDep,
    turns: TurnsDep,
    entries: EntriesDep,
    authorization: str | None = Header(None),
    group: Group = None,
) -> Response:
    return await _health(store, settings, verifier, entries, turns, authorization, component, group=group)


@router.get(
    "/health/{component}/{check}", response_class=HealthResponse, responses=_RESPONSES, summary="Health of one check"
)
async def health_check(
    component: str,
    check: str,
    store: StoreDep,
    settings: SettingsDep,
    verifier: VerifierDep,
    turns: TurnsDep,
    entries: EntriesDep,
    authorization: str | None = Header(None),
) -> Response:
    return await _health(store, settings, verifier, entries, turns, authorization, component, check)
