"""Response bodies as documented in /openapi.json: the error body and the health+json document.

They describe what the routes return (the routes build plain dicts); schemathesis checks the two agree.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

StatusName = Literal["pass", "warn", "fail"]


class ErrorBody(BaseModel):
    """Every 4xx: a short machine-readable code and a reason (a list of problems for a bad request)."""

    error: str = Field(examples=["not_found"])
    detail: str | list[str] = Field(examples=["unknown component 'nope'"])


class Observed(BaseModel):
    value: float | int | str | bool | None
    unit: str | None


class LastResult(BaseModel):
    status: StatusName
    duration: float
    scheduled: bool


class TransitionEntry(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    time: str | None
    from_: str = Field(alias="from")
    to: str
    reason: str
    check: str | None = None


class ForecastEntry(BaseModel):
    measure: str
    limit: float
    limitName: str
    now: float
    ratePerSecond: float
    breachIn: float
    window: float
    points: int
    method: str


class CheckEntry(BaseModel):
    """One check in a health+json document (draft-inadarei-api-health-check, with Vigil's extensions)."""

    componentId: str
    componentType: str
    status: StatusName
    state: Literal["pass", "warn", "fail", "pending"]
    severity: Literal["critical", "degraded"]
    area: Literal["database", "redis", "security", "performance", "communication"]
    affectedBy: list[str] | None = None
    time: str | None
    output: str
    observedValue: float | int | str | bool | None = None
    observedUnit: str | None = None
    observations: dict[str, Observed] | None = None
    lastResult: LastResult | None = None
    forecast: ForecastEntry | None = None
    consecutiveFailures: int
    lastSuccess: str | None
    availability: dict[str, float | None]
    transitions: list[TransitionEntry]


class RunEntry(BaseModel):
    status: StatusName
    output: str
    cached: bool


class AreaEntry(BaseModel):
    title: str
    status: StatusName
    checks: list[str] | None = None


class HealthDocument(BaseModel):
    """application/health+json. Without details (show_details) only `status` is present."""

    model_config = ConfigDict(extra="forbid")

    status: StatusName
    areas: dict[str, AreaEntry] | None = None
    version: str | None = None
    releaseId: str | None = None
    serviceId: str | None = None
    description: str | None = None
    checks: dict[str, list[CheckEntry]] | None = None
    transitions: list[TransitionEntry] | None = None
    runs: dict[str, RunEntry] | None = None


Responses = dict[int | str, dict[str, Any]]


def error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


def health_body(description: str) -> dict[str, Any]:
    return {"model": HealthDocument, "description": description, "content": {"application/health+json": {}}}


def text(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}}


NOT_FOUND: Responses = {404: error("unknown component or check")}
BAD_REQUEST: Responses = {400: error("malformed query parameters")}
