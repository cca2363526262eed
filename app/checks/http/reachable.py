"""The `reachable` check: one request, its status in an expected set, a latency budget, JSON fields equal, header
and body conditions (judged by conditions.py). Every condition that does not hold is named in the output.

Redirects only when `follow_redirects`, one hop at a time under redirects.py's rule (same origin, or an origin the
check lists, without the component's headers); explicit connect and total timeouts on every call.
"""

from __future__ import annotations

import time

from app import units
from app.checks import judging
from app.checks.base import NoMemo
from app.checks.http.calls import HttpContext, drain, flatten, naming_stalled_lookups, read_body, target
from app.checks.http.conditions import body_problems, header_problems
from app.checks.http.config import HttpReachable
from app.checks.http.errors import NoAnswer
from app.checks.http.json_fields import mismatches
from app.checks.http.redirects import Refused, next_hop
from app.checks.judging import Finding
from app.model import Observation, Outcome, Status

# Seconds aiohttp's own timers wait past the run's deadline: the deadline always ends a silent request first, so it
# reads as every timed-out run does; aiohttp's timers are only a backstop.
BACKSTOP = 1.0


async def run(ctx: HttpContext[HttpReachable, NoMemo]) -> Outcome:
    component = ctx.component
    options: HttpReachable = ctx.options
    headers = dict(component.headers)
    if component.bearer_token is not None:
        headers["Authorization"] = f"Bearer {component.bearer_token.get_secret_value()}"
    url, method, sent = target(component, options.path), str(options.method), headers
    started = time.perf_counter()
    redirects = 0
    while True:
        total = ctx.remaining() + BACKSTOP
        connect = min(component.connect_timeout, ctx.remaining())
        timeout = ctx.client.timeout(connect=connect, total=total)
        try:
            with naming_stalled_lookups(ctx, url, connect):
                async with ctx.client.session.request(
                    method, url, headers=sent, timeout=timeout, allow_redirects=False
                ) as response:
                    hop = None
                    if options.follow_redirects:
                        location = response.headers.get("Location")
                        try:
                            hop = next_hop(
                                response.status, location, url, method, component.url, options.redirect_origins
                            )
                        except Refused as exc:
                            return Outcome(Status.FAIL, str(exc))
                    if hop is None:
                        body = (
                            await read_body(response.content) if options.json_fields or options.body_contains else b""
                        )
                        latency = time.perf_counter() - started
                        status_code = response.status
                        answered = flatten(response.headers.items())
                    await drain(ctx, response)
        except TimeoutError:  # aiohttp's backstop fired after all (its total timer raises a bare TimeoutError)
            raise NoAnswer(total) from None
        if hop is None:
            break
        if redirects == options.max_redirects:
            return Outcome(Status.FAIL, "too many redirects")
        redirects += 1
        url, method = hop.url, hop.method
        sent = sent if hop.same_origin else {}  # the component's headers and token stay with its own origin
    observed = [
        Observation("latency", round(latency, 6), "s"),
        Observation("status_code", status_code),
    ]
    if redirects:
        observed.append(Observation("redirects", redirects))
    findings: list[Finding] = []
    if status_code not in options.expect_status:
        findings.append((Status.FAIL, f"HTTP {status_code}, expected {' or '.join(map(str, options.expect_status))}"))
    if (slow := judging.latency(options.method, latency, options.latency_warn, options.latency_budget)) is not None:
        findings.append(slow)
    if options.json_fields and status_code in options.expect_status:
        findings.extend((Status.FAIL, problem) for problem in mismatches(body, options.json_fields))
    findings.extend((Status.FAIL, problem) for problem in header_problems(answered, options.expect_headers))
    findings.extend((Status.FAIL, problem) for problem in body_problems(body, options.body_contains))
    ok = f"HTTP {status_code} in {units.latency(latency)}"
    if conditions := len(options.expect_headers) + len(options.body_contains):
        ok += f"; {units.plural(conditions, 'header and body condition')} {'holds' if conditions == 1 else 'hold'}"
    return Outcome.from_findings(findings, observed, ok=ok)
