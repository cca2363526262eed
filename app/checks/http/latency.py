"""The `latency` check: `requests` requests per configured path, `concurrency` at a time, timed to the end of the
body; p50/p95/p99 and errors per path, judged by latency_rules against the path's budget.

The paths are measured one after the other. The run stops sending shortly before its deadline, so a slow target
gives an output naming the unfinished path rather than a bare timeout.
"""

from __future__ import annotations

import asyncio

import aiohttp

from app import units
from app.checks.base import NoMemo
from app.checks.http import latency_rules
from app.checks.http.calls import MAX_BODY, HttpContext, api_headers, request, target
from app.checks.http.errors import NoAnswer, reason
from app.checks.http.latency_rules import PathRun
from app.checks.http.production_config import HttpLatency, LatencyPath
from app.checks.judging import Finding
from app.model import Observation, Outcome


def reserve(timeout: float) -> float:
    """Seconds kept at the end of a run to judge and return before the scheduler's deadline."""
    return min(0.25, max(0.02, 0.05 * timeout))


async def run(ctx: HttpContext[HttpLatency, NoMemo]) -> Outcome:
    options: HttpLatency = ctx.options
    stop_at = ctx.deadline - reserve(ctx.schedule.timeout)
    runs = [await _measure(ctx, name, path, stop_at) for name, path in options.paths.items()]
    findings: list[Finding] = []
    observed: list[Observation] = []
    for path_run in runs:
        findings.extend(latency_rules.judge(path_run, options.warn_fraction, options.max_errors))
        observed.extend(latency_rules.observations(path_run))
    ok = "; ".join(latency_rules.summary(path_run) for path_run in runs)
    ok += f" ({options.requests} requests per path, {options.concurrency} at a time)"
    return Outcome.from_findings(findings, observed, ok=ok)


async def _measure(ctx: HttpContext[HttpLatency, NoMemo], name: str, path: LatencyPath, stop_at: float) -> PathRun:
    options: HttpLatency = ctx.options
    loop = asyncio.get_running_loop()
    url = target(ctx.component, path.path)
    headers = api_headers(ctx.component)
    if ctx.component.bearer_token is not None:
        headers["Authorization"] = f"Bearer {ctx.component.bearer_token.get_secret_value()}"
    result = PathRun(name, path.path, path.budget, options.requests)
    tickets = iter(range(options.requests))

    async def worker() -> None:
        for _ in tickets:  # shared by the workers: each request is sent once
            left = stop_at - loop.time()
            if left <= 0:
                return
            limit = min(options.request_timeout, left)
            try:
                reply = await request(
                    ctx, path.method, url, limit=limit, headers=headers, read=MAX_BODY if path.method == "GET" else 0
                )
            except NoAnswer:
                if limit < options.request_timeout:
                    return  # cut by the run's end, not by the target: left unfinished
                result.errors[f"no answer within {units.latency(options.request_timeout)}"] += 1
            except aiohttp.ClientError as exc:
                result.errors[reason(exc)] += 1
            else:
                if reply.status in options.expect_status:
                    result.latencies.append(reply.latency)
                else:
                    result.errors[f"HTTP {reply.status}"] += 1

    async with asyncio.TaskGroup() as group:
        for _ in range(min(options.concurrency, options.requests)):
            group.create_task(worker())
    return result
