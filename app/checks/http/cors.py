"""The `cors` check: preflights as a browser sends them, per route and allowed origin, judged by cors_rules.

Then one origin nobody allowed, on a preflight and on a simple request per route: it must never be echoed.
Browser-like: no credentials and none of the component's headers go with a preflight.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import aiohttp

from app import units
from app.checks.http import cors_rules
from app.checks.http.calls import HttpContext, Reply, request, target
from app.checks.http.config import CorsRoute, HttpCors
from app.checks.http.cors_rules import Preflight
from app.checks.http.errors import NoAnswer, reason
from app.model import Observation, Outcome, Status


@dataclass(slots=True)
class CorsMemo:
    """The origin nobody allowed, when not configured: random, unguessable, the same for every run of the check."""

    origin: str = field(default_factory=lambda: f"https://vigil-{secrets.token_hex(4)}.invalid")


class _Stop(Exception):
    """A request that could not be made: the run ends with this sentence."""


async def run(ctx: HttpContext[HttpCors, CorsMemo]) -> Outcome:
    options: HttpCors = ctx.options
    memo: CorsMemo = ctx.memo
    disallowed = options.disallowed_origin or memo.origin
    problems: list[str] = []
    replies: list[Reply] = []
    foreign: list[tuple[str, dict[str, str]]] = []  # (what, headers) of the requests from the disallowed origin
    try:
        for route in options.routes:
            for origin in options.allowed_origins:
                ask = Preflight(route.method, route.path, tuple(route.headers), origin, options.credentials)
                reply = await _preflight(ctx, route, origin, f"the preflight of {ask.where}")
                replies.append(reply)
                problems.extend(cors_rules.judge_preflight(ask, reply.status, reply.headers))
            what = f"the preflight of {route.method} {route.path}"
            foreign.append((what, (await _preflight(ctx, route, disallowed, what)).headers))
            what = f"a simple GET {route.path}"
            foreign.append((what, (await _call(ctx, "GET", route.path, {"Origin": disallowed}, what)).headers))
    except _Stop as stop:
        return Outcome(Status.FAIL, str(stop), tuple(_observed(replies)))
    problems.extend(cors_rules.judge_disallowed(disallowed, list(foreign)))
    routes, origins = len(options.routes), len(options.allowed_origins)
    ok = (
        f"{units.plural(len(replies), 'preflight')} ({units.plural(routes, 'route')} x "
        f"{units.plural(origins, 'origin')}) allowed as a browser needs; {disallowed} never echoed"
    )
    findings = [(Status.FAIL, problem) for problem in problems]
    return Outcome.from_findings(findings, _observed(replies), ok=ok)


async def _preflight(ctx: HttpContext[HttpCors, CorsMemo], route: CorsRoute, origin: str, what: str) -> Reply:
    headers = {"Origin": origin, "Access-Control-Request-Method": route.method}
    if route.headers:
        # Browsers send the names lower-cased and sorted.
        headers["Access-Control-Request-Headers"] = ",".join(sorted(name.lower() for name in route.headers))
    return await _call(ctx, "OPTIONS", route.path, headers, what)


async def _call(
    ctx: HttpContext[HttpCors, CorsMemo], method: str, path: str, headers: dict[str, str], what: str
) -> Reply:
    options: HttpCors = ctx.options
    try:
        return await request(ctx, method, target(ctx.component, path), headers=headers, limit=options.request_timeout)
    except (aiohttp.ClientError, NoAnswer) as exc:
        raise _Stop(f"{what}: {reason(exc)}") from None


def _observed(replies: list[Reply]) -> list[Observation]:
    observed = [Observation("preflights", len(replies))]
    if replies:
        observed.append(Observation("preflight_latency", round(max(r.latency for r in replies), 6), "s"))
    ages = [age for r in replies if (age := cors_rules.max_age(r.headers)) is not None]
    if ages:
        observed.append(Observation("max_age", min(ages), "s"))
    return observed
