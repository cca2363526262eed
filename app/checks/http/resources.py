"""The `resources` check: the watched service's memory and CPU against its limits, from its Prometheus endpoint
(process metrics) or from cgroup v2 files; the CPU is a rate between runs (ResourcesMemo). Judged by
resources_rules."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp

from app import text as text_of
from app.checks.http import resources_rules
from app.checks.http.calls import HttpContext, request, target
from app.checks.http.errors import NoAnswer, reason
from app.checks.http.production_config import HttpResources
from app.checks.http.resources_rules import CPU, RSS, Limits, ResourcesMemo, Usage
from app.model import Outcome, Status

MAX_METRICS = 8 * 1_048_576  # bytes of a metrics page read at most (the process_* lines come early in practice)


async def run(ctx: HttpContext[HttpResources, ResourcesMemo]) -> Outcome:
    options: HttpResources = ctx.options
    memo: ResourcesMemo = ctx.memo
    if options.source == "prometheus":
        read = await _scrape(ctx)
        if isinstance(read, Outcome):
            return read
        usage, problems = read
    else:
        usage, problems = _cgroup(options)
    rate, note = resources_rules.cpu_rate(memo, usage.cpu_seconds, time.monotonic())
    limits = Limits(options.max_memory_ratio, options.max_cpu_ratio, options.warn_fraction)
    return resources_rules.judge(usage, rate, note, limits, problems)


async def _scrape(ctx: HttpContext[HttpResources, ResourcesMemo]) -> tuple[Usage, list[str]] | Outcome:
    options: HttpResources = ctx.options
    component = ctx.component
    url = target(component, options.metrics_path)
    headers = {**component.headers, "Accept": "text/plain;version=0.0.4"}
    if component.bearer_token is not None:
        headers["Authorization"] = f"Bearer {component.bearer_token.get_secret_value()}"
    try:
        reply = await request(ctx, "GET", url, limit=options.request_timeout, headers=headers, read=MAX_METRICS)
    except (aiohttp.ClientError, NoAnswer) as exc:
        return Outcome(Status.FAIL, f"scraping {url}: {reason(exc)}")
    if reply.status != 200:
        return Outcome(Status.FAIL, f"{url} answered HTTP {reply.status}")
    text = reply.body.decode("utf-8", "replace")
    if len(reply.body) >= MAX_METRICS:
        text = text[: text.rfind("\n") + 1]  # a cut page: drop the partial last line
    try:
        memory, cpu_seconds = resources_rules.process_metrics(text)
    except ValueError as exc:
        return Outcome(Status.FAIL, f"{url} is not Prometheus text: {text_of.printable(str(exc), text_of.SHOWN)}")
    memory, cpu_seconds, problems = resources_rules.finite_readings(memory, cpu_seconds, url)
    if options.memory_limit is not None and memory is None:
        problems.append(f"{url} has no {RSS}")
    if options.cpu_limit is not None and cpu_seconds is None:
        problems.append(f"{url} has no {CPU}")
    return Usage(memory, options.memory_limit, cpu_seconds, options.cpu_limit), problems


def _cgroup(options: HttpResources) -> tuple[Usage, list[str]]:
    """The cgroup's files (tiny sysfs reads, done inline). memory.max and cpu.max are absent in the root cgroup."""
    directory = Path(options.cgroup_dir)
    problems: list[str] = []

    def read(name: str, required: bool) -> str | None:
        try:
            return (directory / name).read_text()
        except OSError as exc:
            if required:
                problems.append(
                    f"cannot read {directory / name}: {exc.strerror or exc}; is {directory} a cgroup v2 directory "
                    "Vigil can see?"
                )
            return None

    memory = cpu_seconds = memory_limit = cpu_limit = None
    try:
        if (current := read("memory.current", True)) is not None:
            stat = read("memory.stat", False)
            memory = resources_rules.working_set(float(int(current)), resources_rules.flat_keyed(stat or ""))
        if (memory_max := read("memory.max", False)) is not None:
            memory_limit = resources_rules.cgroup_max(memory_max)
        if (cpu_stat := read("cpu.stat", True)) is not None:
            usage_usec = resources_rules.flat_keyed(cpu_stat).get("usage_usec")
            if usage_usec is None:
                problems.append(f"{directory / 'cpu.stat'} has no usage_usec")
            else:
                cpu_seconds = usage_usec / 1e6
        if (cpu_max := read("cpu.max", False)) is not None:
            cpu_limit = resources_rules.cgroup_cpu_max(cpu_max)
    except ValueError as exc:
        problems.append(f"unexpected contents in {directory}: {exc}")
    return (
        Usage(memory, memory_limit or options.memory_limit, cpu_seconds, cpu_limit or options.cpu_limit),
        problems,
    )
