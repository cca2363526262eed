"""Performance baselines on the `http` type against a real site on loopback (devenv.securesite): `latency` (a fast
path, a slow one whose p95 exceeds its budget, one near it, one that errors, one too slow to finish in time) and
`resources` from the site's Prometheus `/metrics` and from cgroup v2 files the test writes.

Statuses are exact; the delays leave wide margins either side of each budget (a busy 2-core machine).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.config.settings import ConfigError, load_settings
from app.model import CheckId, CheckResult, Status
from devenv.securesite import MiB, SiteOptions, serve_site
from tests.conftest import check_runner, make_settings

GiB = 1024 * MiB


def settings(url: str, timeout: float = 5, **checks: dict[str, Any]) -> Any:
    return make_settings(
        defaults={"interval": 30, "timeout": timeout},
        components={
            "svc": {
                "type": "http",
                "url": url,
                "connect_timeout": 1,
                "checks": {"home": {"kind": "reachable", "path": "/fast"}, **checks},
            }
        },
    )


async def run_all(config: Any, runs: int = 1) -> dict[str, list[CheckResult]]:
    """Every check `runs` times in turn, through one scheduler (memo kept between runs)."""
    results: dict[str, list[CheckResult]] = {}
    async with check_runner(config) as scheduler:
        for _ in range(runs):
            for check_id, runner in scheduler.runners.items():
                results.setdefault(check_id.check, []).append(await runner.run(scheduled=False))
    return results


def latency(paths: dict[str, Any], **options: Any) -> dict[str, Any]:
    return {"kind": "latency", "paths": paths, "requests": 8, "concurrency": 4, **options}


def observed(result: CheckResult) -> dict[str, Any]:
    return {o.name: o for o in result.observed}


async def test_latency_each_path_gets_exactly_its_status() -> None:
    async with serve_site(SiteOptions()) as site:
        results = await run_all(
            settings(
                site.url,
                fast=latency({"fast": {"path": "/fast", "budget": "500ms"}}),
                slow=latency({"slow": {"path": "/slow?delay=0.6", "budget": "200ms"}}),
                near=latency({"near": {"path": "/slow?delay=0.3", "budget": "800ms"}}, warn_fraction=0.3),
                broken=latency({"missing": "/missing"}),
            )
        )
        hits = site.site.hits
    status = {name: runs[0].status for name, runs in results.items()}
    assert status == {
        "home": Status.PASS,
        "fast": Status.PASS,
        "slow": Status.FAIL,
        "near": Status.WARN,
        "broken": Status.FAIL,
    }, {name: runs[0].output for name, runs in results.items()}
    fast, slow, near, broken = (results[name][0] for name in ("fast", "slow", "near", "broken"))
    assert re.fullmatch(
        r"fast \(/fast\): p95 [\d.]+ ms within 500 ms \(p50 [\d.]+ ms, p99 [\d.]+ ms\) "
        r"\(8 requests per path, 4 at a time\)",
        fast.output,
    ), fast.output
    assert re.fullmatch(
        r"slow \(/slow\?delay=0\.6\): p95 [\d.]+ ms \(p50 [\d.]+ ms, p99 [\d.]+ ms, 8 answers\), "
        r"at or above the 200 ms budget",
        slow.output,
    ), slow.output
    assert re.fullmatch(
        r"near \(/slow\?delay=0\.3\): p95 [\d.]+ ms \(p50 [\d.]+ ms, p99 [\d.]+ ms, 8 answers\), "
        r"at or above the 240 ms warn threshold of its 800 ms budget",
        near.output,
    ), near.output
    assert broken.output == "missing (/missing): 8 of 8 requests failed (HTTP 404 x8)"
    assert hits["/fast"] == 8 + 1 and hits["/slow"] == 16 and hits["/missing"] == 8  # each request sent once
    slow_seen = observed(slow)
    assert set(slow_seen) == {"slow_p50", "slow_p95", "slow_p99", "slow_errors"}
    assert slow_seen["slow_p95"].unit == "s" and slow_seen["slow_p95"].value >= 0.6
    assert slow_seen["slow_p95"].limit is not None and slow_seen["slow_p95"].limit.value == 0.2
    assert (slow_seen["slow_errors"].value, observed(broken)["missing_errors"].value) == (0, 8)


async def test_latency_run_that_cannot_finish_names_the_unfinished_path() -> None:
    async with serve_site(SiteOptions()) as site:
        results = await run_all(
            settings(
                site.url,
                timeout=2,
                late=latency({"late": {"path": "/slow?delay=0.6", "budget": "200ms"}}, concurrency=1),
            )
        )
    late = results["late"][0]
    assert late.status is Status.FAIL
    assert re.match(
        r"late \(/slow\?delay=0\.6\): only [1-3] of 8 requests done before the check's deadline; ", late.output
    )
    assert "p95" in late.output and "at or above the 200 ms budget" in late.output
    assert late.duration < 2  # returned before the scheduler's deadline, with its own words
    assert results["home"][0].status is Status.PASS


def resources(**options: Any) -> dict[str, Any]:
    return {"kind": "resources", **options}


async def test_resources_from_prometheus_over_and_under_the_limits() -> None:
    over = SiteOptions(memory_bytes=900 * MiB, cpu_rate=10.0)
    under = SiteOptions(memory_bytes=100 * MiB, cpu_rate=0.01)
    limits = {"memory_limit": "1GiB", "cpu_limit": 1}
    async with serve_site(over) as hot, serve_site(under) as calm:
        hot_runs = await run_all(settings(hot.url, resources=resources(**limits)), runs=2)
        calm_runs = await run_all(settings(calm.url, resources=resources(memory_limit="1Gi", cpu_limit=4)), runs=2)
    assert [r.status for r in hot_runs["home"] + calm_runs["home"]] == [Status.PASS] * 4
    first, second = hot_runs["resources"]
    assert (first.status, second.status) == (Status.FAIL, Status.FAIL)
    assert first.output == "memory 900.0 MiB of 1.0 GiB (88%), at or above the 80% maximum"
    assert re.fullmatch(
        r"memory 900\.0 MiB of 1\.0 GiB \(88%\), at or above the 80% maximum; "
        r"CPU [\d.]+ of 1 core \(\d+%\), at or above the 70% maximum",
        second.output,
    ), second.output
    first, second = calm_runs["resources"]
    assert (first.status, second.status) == (Status.PASS, Status.PASS), (first.output, second.output)
    assert first.output == "memory 100.0 MiB of 1.0 GiB (10%); CPU rate from the next run"
    assert re.fullmatch(r"memory 100\.0 MiB of 1\.0 GiB \(10%\); CPU [\d.e-]+ of 4 cores \(\d+%\)", second.output)
    seen = observed(second)
    assert (seen["memory_used"].value, seen["memory_used"].unit) == (100 * MiB, "bytes")
    assert (seen["memory_ratio"].unit, seen["cpu_ratio"].unit, seen["cpu_usage_cores"].unit) == (
        "ratio",
        "ratio",
        "cores",
    )
    assert seen["memory_ratio"].limit is not None and seen["memory_ratio"].limit.value == 0.8


async def test_resources_metrics_missing_or_not_prometheus() -> None:
    async with serve_site(SiteOptions()) as site:
        results = await run_all(
            settings(
                site.url,
                wrong_page=resources(metrics_path="/fast", memory_limit="1Gi"),
                no_page=resources(metrics_path="/nope", cpu_limit=1),
            )
        )
    assert results["wrong_page"][0].status is Status.FAIL
    assert results["wrong_page"][0].output == f"{site.url}/fast has no process_resident_memory_bytes"
    assert (results["no_page"][0].status, results["no_page"][0].output) == (
        Status.FAIL,
        f"{site.url}/nope answered HTTP 404",
    )


def write_cgroup(directory: Path, **files: str) -> None:
    for name, text in files.items():
        (directory / name.replace("_", ".", 1)).write_text(text + "\n")


async def test_resources_from_cgroup_v2_files(tmp_path: Path) -> None:
    hot, calm = tmp_path / "hot", tmp_path / "calm"
    hot.mkdir()
    calm.mkdir()
    write_cgroup(
        hot,
        memory_current=str(GiB - 50 * MiB),
        memory_max=str(GiB),
        memory_stat="anon 900000000\nfile 60000000\ninactive_file 10485760\nactive_file 2048",
        cpu_stat="usage_usec 5000000\nuser_usec 4000000\nsystem_usec 1000000\nnr_periods 10\nnr_throttled 2",
        cpu_max="150000 100000",
    )
    write_cgroup(
        calm,
        memory_current=str(200 * MiB),
        memory_max="max",
        cpu_stat="usage_usec 5000000",
        cpu_max="max 100000",
    )
    config = settings(
        "http://127.0.0.1:9/",
        hot=resources(source="cgroup", cgroup_dir=str(hot)),
        calm=resources(source="cgroup", cgroup_dir=str(calm), memory_limit="1Gi", cpu_limit=2),
        gone=resources(source="cgroup", cgroup_dir=str(tmp_path / "gone")),
    )
    async with check_runner(config) as scheduler:
        runner = {name: scheduler.runners[CheckId("svc", name)] for name in ("hot", "calm", "gone")}
        first = {name: await r.run(scheduled=False) for name, r in runner.items()}
        write_cgroup(hot, cpu_stat="usage_usec 15000000")  # 10 CPU seconds since the first run: far above 1.5 cores
        write_cgroup(calm, cpu_stat="usage_usec 5000001")  # one microsecond
        second = {name: await r.run(scheduled=False) for name, r in runner.items()}
    assert first["hot"].status is Status.FAIL
    assert first["hot"].output == "memory 964.0 MiB of 1.0 GiB (94%), at or above the 80% maximum"  # less inactive_file
    assert second["hot"].status is Status.FAIL
    assert re.fullmatch(
        r"memory 964\.0 MiB of 1\.0 GiB \(94%\), at or above the 80% maximum; CPU [\d.e+]+ of 1\.5 cores \(\d+%\), "
        r"at or above the 70% maximum",
        second["hot"].output,
    ), second["hot"].output
    assert (first["calm"].status, second["calm"].status) == (Status.PASS, Status.PASS)
    assert first["calm"].output == "memory 200.0 MiB of 1.0 GiB (20%); CPU rate from the next run"
    assert re.fullmatch(r"memory 200\.0 MiB of 1\.0 GiB \(20%\); CPU [\d.e-]+ of 2 cores \(0%\)", second["calm"].output)
    gone = tmp_path / "gone"
    assert first["gone"].status is Status.FAIL
    assert first["gone"].output == (
        f"cannot read {gone}/memory.current: No such file or directory; is {gone} a cgroup v2 directory Vigil can see?; "
        f"cannot read {gone}/cpu.stat: No such file or directory; is {gone} a cgroup v2 directory Vigil can see?"
    )


@pytest.mark.parametrize(
    ("check", "message"),
    [
        (
            latency({"a": "/a"}, concurrency=8),
            "components.svc.checks.load.concurrency: 8 is more than max_connections (4); "
            "requests would queue for a connection and the wait count as latency",
        ),
        (
            latency({"a": {"path": "/a", "budget": "2s"}}),
            "components.svc.checks.load.request_timeout: 1s must be longer than the largest budget (2s); "
            "a request cut at its timeout is an error, not a measurement",
        ),
        (
            latency({"a": {"path": "/a", "budget": "900ms"}, "b": {"path": "/b", "budget": "900ms"}}, requests=12),
            "components.svc.checks.load.timeout: 5s must be longer than 12 requests per path, 4 at a time, "
            "each at its path's budget (5.4s)",
        ),
        (latency({"Bad-Name": "/a"}), "'Bad-Name': names must match ^[a-z][a-z0-9_]{0,62}$"),
        (
            resources(),
            "components.svc.checks.load.memory_limit: set memory_limit or cpu_limit (or both); "
            "the process metrics give usage, not limits",
        ),
        (resources(source="cgroup", memory_limit="lots"), "expected a size such as 512Mi, 2GiB or a number of bytes"),
    ],
)
def test_bad_options_name_their_field(tmp_path: Path, check: dict[str, Any], message: str) -> None:
    path = tmp_path / "vigil.yaml"
    path.write_text(
        yaml.safe_dump(
            {"components": {"svc": {"type": "http", "url": "http://svc.internal/", "checks": {"load": check}}}}
        )
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert any(problem.endswith(message) for problem in caught.value.problems), caught.value.problems
