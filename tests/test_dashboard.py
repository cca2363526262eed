"""The Grafana dashboard (examples/grafana-dashboard.json): every PromQL expression parses (promtool), every metric
it names exists in Vigil's /metrics or the recording rules, and a real Prometheus scraping a real Vigil (Redis,
ClickHouse, HTTP and TLS checks) answers every panel's query with data that says what is failing now and since
when, the availability per component and check, and when certificates expire."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from devenv.servers import ClickHouseServer, RedisServer
from tests.conftest import HttpTarget, http, make_settings, prometheus_query, prometheus_scraping, reach, serve

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "examples" / "grafana-dashboard.json"
RULES = ROOT / "examples" / "prometheus-rules.yml"
# What Grafana puts in place of the variables when "All" is selected, a rate window for 1 s scrapes, and a range
# (and its step) that fits in the test's few minutes.
SUBSTITUTIONS = {
    "$__rate_interval": "15s",
    "$__range": "10m",
    "$__interval": "1s",
    "$job": ".+",
    "$component": ".+",
    "$check": ".+",
}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


def load() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def expressions(dashboard: dict[str, Any]) -> dict[str, str]:
    """Every query, named by where it is: `panel title/refId`, and `$variable` for the variables' selectors."""
    found = {}
    for panel in panels(dashboard):
        for target in panel["targets"]:
            found[f"{panel['title']}/{target['refId']}"] = target["expr"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            match = re.fullmatch(r"label_values\((.+), *(\w+)\)", variable["query"]["query"])
            assert match, variable["query"]
            found[f"${variable['name']}"] = match.group(1)
    return found


def substitute(expr: str) -> str:
    for variable, value in SUBSTITUTIONS.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"unknown variable in {expr}"
    return expr


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers left once strings, label matchers, ranges and grouping
    clauses are removed, that are not functions, aggregations or keywords."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", " ", expr)
    expr = re.sub(r"\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    expr = re.sub(r"\b(group_left|group_right)\b", " ", expr)
    names = set(re.findall(r"(?<![\w:.])([a-zA-Z_:][\w:]*)(?![\w:]|\s*\()", expr))
    return {name for name in names if name.lower() not in KEYWORDS}


def test_metric_name_extraction() -> None:
    expr = (
        'histogram_quantile(0.5, sum by (component, check, le) (rate(vigil_check_duration_seconds_bucket{job=~"a|b"}[5m])))'
        " / on (component, check) group_left () (1 - vigil:check_slo_objective:ratio) and max(up offset 1m) > bool 2"
    )
    assert metric_names(expr) == {"vigil_check_duration_seconds_bucket", "vigil:check_slo_objective:ratio", "up"}


def test_dashboard_has_the_panels_and_variables_it_promises() -> None:
    dashboard = load()
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    titles = {p["title"] for p in panels(dashboard)}
    assert {
        "Ready",
        "Failing and warning checks",
        "Certificate expiry",
        "Availability per component",
        "Availability per check",
        "Availability per component, this calendar month",
        "Availability per check, this calendar month",
        "Check state",
        "Availability against the objective",
        "Error budget remaining",
        "Burn rate",
        "Check duration p50 / p95 / p99",
        "Scheduler lag",
        "Redis memory used / limit",
        "ClickHouse SLA query latency",
    } <= titles
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert set(variables) == {"datasource", "job", "component", "check", "vigil_url"}
    assert variables["vigil_url"]["type"] == "textbox"
    for panel in panels(dashboard):
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
    # Sharded or not, no query singles out an instance.
    assert not any("instance" in expr for expr in expressions(dashboard).values())


def by_title(title: str) -> dict[str, Any]:
    return next(p for p in panels(load()) if p["title"] == title)


def test_tables_link_each_check_to_vigils_page() -> None:
    """The status page filters on `?q=` (its filter box, kept in the URL): a link opens the page on the one check."""
    for title in ("Failing and warning checks", "Certificate expiry", "Availability per check"):
        panel = by_title(title)
        links = {
            o["matcher"]["options"]: prop["value"]
            for o in panel["fieldConfig"]["overrides"]
            for prop in o["properties"]
            if prop["id"] == "links"
        }
        assert set(links) == {"Component", "Check"}, title
        for value in links.values():
            assert value[0]["url"] == "${vigil_url}/?q=${__data.fields.component}:${__data.fields.check}"


def test_sla_panels_cover_the_range_and_the_calendar_month() -> None:
    for title in ("Availability per component", "Availability per check"):
        assert "timeFrom" not in by_title(title)  # the dashboard's range
        month = by_title(f"{title}, this calendar month")
        assert month["timeFrom"] == "now/M"  # Grafana: "this month so far"
        assert month["targets"] == by_title(title)["targets"]
        for target in month["targets"]:
            assert "[$__range]" in target["expr"] or target["refId"] == "B"


def test_every_expression_parses(tmp_path: Path) -> None:
    """promtool parses each query (as a recording rule), Grafana's variables replaced as "All" would."""
    found = expressions(load())
    rules = [{"record": f"dashboard:query_{i}", "expr": substitute(expr)} for i, expr in enumerate(found.values())]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    done = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules)} rules found" in done.stdout


def test_slo_rules_compute_the_error_budget(tmp_path: Path) -> None:
    """The SLO group the dashboard reads: one failed run in 400 is an error ratio of 0.25%, half the 0.5% budget of
    a 99.5% objective; a degraded check has no SLO."""
    critical = {"component": "cache", "check": "connectivity"}
    degraded = {"component": "cache", "check": "memory"}

    def series(name: str, values: str, **labels: str) -> dict[str, str]:
        rendered = ",".join(f'{k}="{v}"' for k, v in labels.items())
        return {"series": f"{name}{{{rendered}}}", "values": values}

    inputs = [
        series("vigil_check_runs_total", "0+1x120", status="fail", **critical),
        series("vigil_check_runs_total", "0+399x120", status="pass", **critical),
        series("vigil_check_info", "1x120", type="redis", severity="critical", **critical),
        series("vigil_check_runs_total", "0+4x120", status="fail", **degraded),
        series("vigil_check_runs_total", "0+0x120", status="pass", **degraded),
        series("vigil_check_info", "1x120", type="redis", severity="degraded", **degraded),
    ]
    labels = '{component="cache",check="connectivity"}'
    suite = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": inputs,
                "promql_expr_test": [
                    {
                        "expr": "vigil:check_slo_objective:ratio",
                        "eval_time": "60m",
                        "exp_samples": [{"labels": f"vigil:check_slo_objective:ratio{labels}", "value": 0.995}],
                    },
                    {
                        "expr": 'vigil:check_error_ratio:slo_window{check="connectivity"}',
                        "eval_time": "60m",
                        "exp_samples": [{"labels": f"vigil:check_error_ratio:slo_window{labels}", "value": 0.0025}],
                    },
                    {
                        # 1 - 0.0025 / (1 - 0.995) is 0.5000000000000004 in floating point
                        "expr": "round(vigil:check_error_budget_remaining:ratio * 1000) / 1000",
                        "eval_time": "60m",
                        "exp_samples": [{"labels": labels, "value": 0.5}],
                    },
                ],
            }
        ],
    }
    path = tmp_path / "slo-test.yml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    done = subprocess.run(["promtool", "test", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


async def test_every_panel_has_data_in_a_real_prometheus(
    redis_server: RedisServer,
    clickhouse_server: ClickHouseServer,
    http_target: HttpTarget,
    https_target: tuple[HttpTarget, Path],
    tmp_path: Path,
) -> None:
    flipping = HttpTarget().start()  # its own: the test turns its /switch from ok to a hang midway
    try:
        await every_panel_has_data(redis_server, clickhouse_server, http_target, https_target, flipping, tmp_path)
    finally:
        flipping.stop()


async def every_panel_has_data(
    redis_server: RedisServer,
    clickhouse_server: ClickHouseServer,
    http_target: HttpTarget,
    https_target: tuple[HttpTarget, Path],
    flipping: HttpTarget,
    tmp_path: Path,
) -> None:
    tls_target, ca_file = https_target
    settings = make_settings(
        defaults={"interval": "1s", "timeout": "800ms", "jitter": 0, "failure_threshold": 1},
        components={
            "cache": {
                "type": "redis",
                "url": redis_server.url,
                "connect_timeout": 0.2,
                "socket_timeout": 0.2,
                "pool_timeout": 0.1,
                "checks": {"connectivity": {}, "memory": {}},
            },
            "analytics": {
                "type": "clickhouse",
                "port": clickhouse_server.tcp_port,
                "connect_timeout": 0.3,
                "socket_timeout": 0.5,
                "checks": {
                    "query_performance": {
                        "queries": {"one_row": {"sql": "SELECT count() FROM system.one", "sla": "500ms"}}
                    }
                },
            },
            "api": http(http_target.url, ok=reach("/ok"), broken=reach("/status/500")),
            "edge": http(flipping.url, flip=reach("/switch")),
            # A 2-day certificate: below the 3-day warn threshold, above the 1-day fail one.
            "web": {
                **http(
                    tls_target.url,
                    cert={"kind": "tls", "warn_before": "3d", "fail_before": "1d", "handshake_timeout": 0.5},
                ),
                "tls_ca_file": str(ca_file),
            },
        },
    )
    found = expressions(load())
    recorded = {
        rule["record"]
        for group in yaml.safe_load(RULES.read_text())["groups"]
        for rule in group["rules"]
        if "record" in rule
    }
    async with serve(settings) as served:
        await served.wait(lambda: all(s.last is not None for s in served.store.states.values()), 10, "first runs")
        status, text, _ = await served.get("/metrics")
        assert status == 200
        exposed = {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}
        for where, expr in found.items():
            unknown = metric_names(expr) - exposed - recorded
            assert not unknown, f"{where}: {sorted(unknown)} neither in /metrics nor recorded"

        with prometheus_scraping(served.url.split("//")[1], tmp_path, RULES) as base:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
                empty: list[str] = list(found)
                deadline = time.monotonic() + 45
                while empty and time.monotonic() < deadline:
                    await asyncio.sleep(1)
                    try:
                        empty = [
                            where
                            for where in empty
                            if not await prometheus_query(session, base, substitute(found[where]))
                        ]
                    except aiohttp.ClientError:
                        continue  # Prometheus still starting
                assert not empty, f"no data after a few scrapes for: {empty}"

                async def query(where: str) -> dict[tuple[str, ...], str]:
                    rows = await prometheus_query(session, base, substitute(found[where]))
                    return {
                        tuple(v for k, v in sorted(r["metric"].items()) if k not in ("__name__",)): r["value"][1]
                        for r in rows
                    }

                # The values behind the panels make sense, not only exist.
                state = await prometheus_query(session, base, substitute(found["Check state/A"]))
                states = {(r["metric"]["component"], r["metric"]["check"]): r["value"][1] for r in state}
                assert states[("api", "ok")] == "1" and states[("api", "broken")] == "3"
                assert states[("cache", "connectivity")] == "1"
                latency = await prometheus_query(session, base, substitute(found["ClickHouse SLA query latency/A"]))
                assert {r["metric"]["measure"] for r in latency} == {"one_row_latency_seconds"}
                budget = await prometheus_query(session, base, substitute(found["Error budget remaining/A"]))
                budgets = {r["metric"]["check"]: float(r["value"][1]) for r in budget}
                assert budgets["ok"] == 1.0 and budgets["broken"] < 0  # every run of broken failed: overspent
                assert "memory" not in budgets  # degraded checks have no SLO

                # What is failing now: exactly the failing and warning checks, with their state and severity.
                # (label tuples are sorted by label name: check, component, severity, status)
                failing = await query("Failing and warning checks/A")
                assert set(failing) == {("broken", "api", "critical", "fail"), ("cert", "web", "degraded", "warn")}
                certificate = await query("Certificate expiry/A")
                left = float(certificate[("cert", "web")])
                assert 86400 < left <= 2 * 86400  # the test certificate is valid for 2 days
                expires = float((await query("Certificate expiry/B"))[("cert", "web")]) / 1000
                assert abs(expires - (time.time() + left)) < 60

                # Since when: the flipped check is failing since the flip, the others since Prometheus first saw them.
                started = time.time()
                flipping.switch = "late-headers"  # no answer: the 800 ms timeout fails the next run
                await wait_for_query(session, base, substitute(found["Failing and warning checks/A"]), "edge", 20)
                since = {k: float(v) / 1000 for k, v in (await query("Failing and warning checks/B")).items()}
                assert set(since) == {("flip", "edge", "fail"), ("broken", "api", "fail"), ("cert", "web", "warn")}
                assert started - 2 <= since[("flip", "edge", "fail")] <= time.time()
                assert since[("broken", "api", "fail")] < started

                # SLA: the always-failing critical check is at 0%, the passing one near 100% (a run may time out on a
                # busy machine); degraded checks have none; a component's is the mean of its critical checks'.
                for where in ("Availability per check/A", "Availability per check, this calendar month/A"):
                    availability = {k: float(v) for k, v in (await query(where)).items()}
                    assert availability[("broken", "api")] == 0.0 and availability[("ok", "api")] > 0.9, where
                    assert ("memory", "cache") not in availability and ("cert", "web") not in availability
                components = {k: float(v) for k, v in (await query("Availability per component/A")).items()}
                assert components[("api",)] == pytest.approx((availability[("ok", "api")] + 0.0) / 2, abs=0.01)
                assert components[("cache",)] > 0.9


async def wait_for_query(session: aiohttp.ClientSession, base: str, expr: str, component: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = await prometheus_query(session, base, expr)
        if any(r["metric"]["component"] == component for r in rows):
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"{component} never showed in {expr}")
