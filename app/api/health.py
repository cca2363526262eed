"""GET /health[/component[/check]]: health+json, 200 for pass/warn and 503 for fail (the draft's rule).

How much unauthenticated callers see follows `server.show_details` (Spring Boot Actuator's rule).
"""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from app.api.deps import DetailsDep, Services, ServicesDep, select
from app.api.details import Details
from app.api.documents import BAD_REQUEST, NOT_FOUND, Responses, health_body
from app.engine.slices import in_slices
from app.engine.store import CheckState, Store
from app.views.report import HEALTH_JSON, EntryMemo, encoded_health

router = APIRouter(tags=["health"])
_RESPONSES: Responses = {
    200: health_body("pass or warn"),
    503: health_body("fail"),
    **NOT_FOUND,
    **BAD_REQUEST,
}


class HealthResponse(JSONResponse):
    """Documents the routes' media type; the body is encoded by `encoded_health` (app.views.report)."""

    media_type = HEALTH_JSON


Group = Annotated[
    Literal["area"] | None, Query(description="`area`: add the verdict per area (production-readiness view)")
]


async def _health(
    services: Services,
    details: Details,
    component: str | None = None,
    check: str | None = None,
    group: str | None = None,
) -> Response:
    store, entries, turns = services.store, services.entries, services.turns
    states = select(store, component, check)
    if details.shown:
        await _warm(store, states, entries)
    async with turns.turn():
        # The whole system follows readiness (degraded checks only warn); a named part reports its own worst state.
        status, body = encoded_health(
            store, states, entries, details=details.shown, strict=component is not None, group=group
        )
    return Response(body, status_code=status, media_type=HEALTH_JSON, headers={"cache-control": "no-store"})


async def _warm(store: Store, states: list[CheckState], entries: EntryMemo) -> None:
    """Bring the members that changed up to date a slice at a time, yielding in between: once a minute every
    availability moves (a new history slot) and all of them are encoded again, about 30 ms at 1,000 checks, which
    must not hold check replies and probes back in one piece. The document is then joined in one go."""
    async for state in in_slices(states):
        entries.member(store, state, time.time())


@router.get(
    "/health",
    response_class=HealthResponse,
    responses=_RESPONSES,
    summary="Health of every check (application/health+json)",
)
async def health(services: ServicesDep, details: DetailsDep, group: Group = None) -> Response:
    return await _health(services, details, group=group)


@router.get(
    "/health/{component}", response_class=HealthResponse, responses=_RESPONSES, summary="Health of one component"
)
async def health_component(component: str, services: ServicesDep, details: DetailsDep, group: Group = None) -> Response:
    return await _health(services, details, component, group=group)


@router.get(
    "/health/{component}/{check}", response_class=HealthResponse, responses=_RESPONSES, summary="Health of one check"
)
async def health_check(component: str, check: str, services: ServicesDep, details: DetailsDep) -> Response:
    return await _health(services, details, component, check)
