"""POST /-/reload: read the configuration again and apply what changed (Bearer JWT with the run scope).

200 with what changed, 400 with every problem of a refused configuration (the running one is kept), 409 while
another reload runs.
"""

from __future__ import annotations

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.api.deps import NotFound, ServicesDep
from app.api.documents import Responses, error
from app.engine.reload import Busy

router = APIRouter(tags=["reload"])


class ReloadBody(BaseModel):
    """What a reload changed, checks named `component:check`."""

    status: str = Field(examples=["reloaded"])
    added: list[str]
    changed: list[str]
    removed: list[str]
    unchanged: int
    needs_restart: list[str] = Field(description="settings that changed but apply only after a restart")


_RESPONSES: Responses = {
    200: {"model": ReloadBody, "description": "the configuration was read again and applied"},
    400: error("the configuration is invalid: every problem listed; nothing changed"),
    401: error("missing or invalid token"),
    403: error("token lacks the run scope, or auth is not configured"),
    404: error("this Vigil was not started from a configuration file it can read again"),
    409: error("another reload is in progress"),
}


@router.post("/-/reload", responses=_RESPONSES, summary="Reload the configuration")
async def reload(services: ServicesDep, authorization: str | None = Header(None)) -> JSONResponse:
    services.verifier.verify(authorization, require_scope=True)  # AuthError -> 401/403 in main's handler
    if services.reloader is None:
        raise NotFound("reload is not available: this Vigil was not started by `vigil serve`")
    try:
        report = await services.reloader.reload("POST /-/reload", wait=False)
    except Busy:
        return JSONResponse({"error": "conflict", "detail": "another reload is in progress; try again"}, 409)
    headers = {"cache-control": "no-store"}
    return JSONResponse(report.document(), status_code=200 if report.ok else 400, headers=headers)
