"""The Grafana dashboard (examples/grafana-dashboard.json): every PromQL expression parses (promtool), every metric
it names exists in Vigil's /metrics or the recording rules, and a real Prometheus scraping a real Vigil (Redis,
ClickHouse and HTTP checks) answers every panel's query with data."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from prometheus_client.parser import text_string_to_metric_families

from devenv.servers import ClickHouseServer, RedisServer
from tests.conftest import HttpTarget, http, make_settings, prometheus_query, prometheus_scraping, reach, serve

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "examples" / "grafana-dashboard.json"
RULES = ROOT / "examples" / "prometheus-rules.yml"
# What Grafana puts in place of the variables when "All" is selected, and a rate window for 1 s scrapes.
SUBSTITUTIONS = {"$__rate_interval": "15s", "$job": ".+", "$component": ".+", "$check": ".+"}
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
    assert set(variables) == {"datasource", "job", "component", "check"}
    for panel in panels(dashboard):
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
    # Sharded or not, no query singles out an instance.
    assert not any("instance" in expr for expr in expressions(dashboard).values())


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
    redis_server: RedisServer, clickhouse_server: ClickHouseServer, http_target: HttpTarget, tmp_path: Path
) -> None:
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
