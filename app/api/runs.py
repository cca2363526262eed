"""POST /checks[/component[/check]]/run: run checks now (Bearer JWT with the run scope) and return fresh results.

Concurrent requests for a check share one execution; a per-check cooldown returns the last on-demand result.
"""

from __future__ import annotations

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse

from app.api.deps import SchedulerDep, SettingsDep, StoreDep, VerifierDep, select
from app.api.documents import BAD_REQUEST, NOT_FOUND, Responses, error, health_body
from app.views.report import HEALTH_JSON, health_document

router = APIRouter(tags=["runs"])


class RunResponse(JSONResponse):
    media_type = HEALTH_JSON


async def _run(
    store: StoreDep,
    settings: SettingsDep,
    scheduler: SchedulerDep,
    verifier: VerifierDep,
    authorization: str | None,
    component: str | None = None,
    check: str | None = None,
) -> RunResponse:
    verifier.verify(authorization, require_scope=True)  # AuthError -> 401/403 in main's handler
    states = select(store, component, check)
    results = await scheduler.run_now([s.check_id for s in states], settings.server.run_cooldown)
    status, document = health_document(store, states, details=True, strict=component is not None)
    document["runs"] = {
        str(result.check_id): {"status": result.status, "output": result.output, "cached": cached}
        for result, cached in results
    }
    return RunResponse(document, status_code=status, headers={"cache-control": "no-store"})


_RESPONSES: Responses = {
    200: health_body("fresh results: pass or warn"),
    503: health_body("fresh results: fail"),
    401: error("missing or invalid token"),
    403: error("token lacks the run scope, or auth is not configured"),
    **NOT_FOUND,
    **BAD_REQUEST,
}


@router.post("/checks/run", response_class=RunResponse, responses=_RESPONSES, summary="Run every check now")
async def run_all(
    store: StoreDep,
    settings: SettingsDep,
    scheduler: SchedulerDep,
    verifier: VerifierDep,
    authorization: str | None = Header(None),
) -> RunResponse:
    return await _run(store, settings, scheduler, verifier, authorization)


@router.post(
    "/checks/{component}/run",
    response_class=RunResponse,
    responses=_RESPONSES,
    summary="Run one component's checks now",
)
async def run_component(
    component: str,
    store: StoreDep,
    settings: SettingsDep,
    scheduler: SchedulerDep,
    verifier: VerifierDep,
    authorization: str | None = Header(None),
) -> RunResponse:
    return await _run(store, settings, scheduler, verifier, authorization, component)


@router.post(
    "/checks/{component}/{check}/run", response_class=RunResponse, responses=_RESPONSES, summary="Run one check now"
)
async def run_check(
    component: str,
    check: str,
    store: StoreDep,
    settings: SettingsDep,
    scheduler: SchedulerDep,
    verifier: VerifierDep,
    authorization: str | None = Header(None),
) -> RunResponse:
    return await _run(store, settings, scheduler, verifier, authorization, component, check)
