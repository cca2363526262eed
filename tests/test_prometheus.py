"""Vigil as Prometheus sees it: the example rules pass `promtool test rules`, and a real Prometheus server
scrapes a running Vigil and evaluates the SLI recording rules over it."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from tests.conftest import HttpTarget, make_settings, prometheus_query, prometheus_scraping, serve

RULES = Path(__file__).resolve().parent.parent / "examples" / "prometheus-rules.yml"


def series(name: str, values: str, **labels: str) -> dict[str, str]:
    rendered = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{rendered}}}", "values": values}


def test_rules_are_valid() -> None:
    done = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 20 rules found" in done.stdout


def test_alerts_fire_for_failing_critical_checks_only(tmp_path: Path) -> None:
    cache = {"component": "cache", "check": "connectivity"}
    api = {"component": "api", "check": "health"}
    memory = {"component": "cache", "check": "memory"}
    inputs = [
        # cache:connectivity (critical) fails every run from the start: 4 runs a minute.
        series("vigil_check_runs_total", "0+4x120", status="fail", **cache),
        series("vigil_check_runs_total", "0+0x120", status="pass", **cache),
        series("vigil_check_up", "0x120", **cache),
        series("vigil_check_info", "1x120", type="redis", severity="critical", area="redis", **cache),
        series("vigil_check_cause", "1x120", cause="cache", root="true", **cache),
        # api:health (critical) passes.
        series("vigil_check_runs_total", "0+0x120", status="fail", **api),
        series("vigil_check_runs_total", "0+4x120", status="pass", **api),
        series("vigil_check_up", "1x120", **api),
        series("vigil_check_info", "1x120", type="http", severity="critical", area="web", **api),
        # cache:memory (degraded) fails: a ticket after 15 minutes, never a page.
        series("vigil_check_runs_total", "0+4x120", status="fail", **memory),
        series("vigil_check_runs_total", "0+0x120", status="pass", **memory),
        series("vigil_check_up", "0x120", **memory),
        series("vigil_check_info", "1x120", type="redis", severity="degraded", area="redis", **memory),
        series("vigil_check_cause", "1x120", cause="cache", root="true", **memory),
    ]
    page = "https://vigil.example.com/status#chk-"
    runbooks = "https://vigil.example.com/docs/alerts/#"
    failing = {
        "exp_labels": {"severity": "page", "area": "redis", "cause": "cache", "root": "true", **cache},
        "exp_annotations": {
            "summary": "Critical check cache:connectivity is failing",
            "description": "cache:connectivity has failed for 2 minutes. It is critical: /readyz answers 503, so the "
            "application is taken out of service (caused by cache).",
            "runbook_url": f"{runbooks}vigilcriticalcheckfailing",
            "status_page": f"{page}cache:connectivity",
        },
    }
    fast_burn = {
        "exp_labels": {"severity": "page", "area": "redis", "cause": "cache", "root": "true", **cache},
        "exp_annotations": {
            "summary": "cache:connectivity burns its 99.5% SLO budget 14.4x too fast",
            "description": "cache:connectivity spends its error budget 14.4x faster than the SLO allows: runs fail "
            "often enough to matter to users, even while the check is not reported failing.",
            "runbook_url": f"{runbooks}vigilslofastburn",
            "status_page": f"{page}cache:connectivity",
        },
    }
    degraded = {
        "exp_labels": {"severity": "ticket", "area": "redis", "cause": "cache", "root": "true", **memory},
        "exp_annotations": {
            "summary": "Check cache:memory (degraded) is failing",
            "description": "cache:memory has failed for 15 minutes. It is degraded, not critical: the application "
            "stays ready, but a feature or a safety margin is lost (caused by cache).",
            "runbook_url": f"{runbooks}vigildegradedcheckfailing",
            "status_page": f"{page}cache:memory",
        },
    }
    suite = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": inputs,
                "alert_rule_test": [
                    {"eval_time": "1m", "alertname": "VigilCriticalCheckFailing", "exp_alerts": []},
                    {"eval_time": "5m", "alertname": "VigilCriticalCheckFailing", "exp_alerts": [failing]},
                    {"eval_time": "10m", "alertname": "VigilSLOFastBurn", "exp_alerts": [fast_burn]},
                    {"eval_time": "10m", "alertname": "VigilDegradedCheckFailing", "exp_alerts": []},
                    {"eval_time": "20m", "alertname": "VigilDegradedCheckFailing", "exp_alerts": [degraded]},
                ],
                "promql_expr_test": [
                    {
                        "expr": "vigil:check_error_ratio:rate5m",
                        "eval_time": "10m",
                        "exp_samples": [
                            {"labels": 'vigil:check_error_ratio:rate5m{component="api",check="health"}', "value": 0},
                            {
                                "labels": 'vigil:check_error_ratio:rate5m{component="cache",check="connectivity"}',
                                "value": 1,
                            },
                            {"labels": 'vigil:check_error_ratio:rate5m{component="cache",check="memory"}', "value": 1},
                        ],
                    }
                ],
            }
        ],
    }
    test_file = tmp_path / "rules-test.yml"
    test_file.write_text(yaml.safe_dump(suite, sort_keys=False))
    done = subprocess.run(["promtool", "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


async def test_real_prometheus_scrapes_vigil_and_evaluates_the_sli(http_target: HttpTarget, tmp_path: Path) -> None:
    settings = make_settings(
        defaults={"interval": "300ms", "timeout": "250ms", "jitter": 0, "failure_threshold": 1},
        components={
            "api": {
                "type": "http",
                "url": http_target.url,
                "connect_timeout": 0.1,
                "checks": {
                    "ok": {"kind": "reachable", "path": "/ok"},
                    "broken": {"kind": "reachable", "path": "/status/500"},
                },
            }
        },
    )
    async with serve(settings) as served:
        with prometheus_scraping(served.url.split("//")[1], tmp_path, RULES) as base:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
                deadline = time.monotonic() + 30
                up: list[dict[str, Any]] = []
                ratios: list[dict[str, Any]] = []
                while time.monotonic() < deadline:
                    try:
                        up = await prometheus_query(session, base, 'vigil_check_up{job="vigil"}')
                        ratios = await prometheus_query(session, base, "vigil:check_error_ratio:rate5m")
                    except aiohttp.ClientError:
                        up, ratios = [], []
                    if len(up) == 2 and len(ratios) == 2:
                        break
                    await asyncio.sleep(0.5)
                assert {(r["metric"]["check"], r["value"][1]) for r in up} == {("ok", "1"), ("broken", "0")}
                assert {(r["metric"]["check"], float(r["value"][1])) for r in ratios} == {("ok", 0.0), ("broken", 1.0)}
                target = await prometheus_query(session, base, 'up{job="vigil"}')
                assert target[0]["value"][1] == "1"


def critical_annotations(component: str, check: str, cause: str) -> dict[str, str]:
    return {
        "summary": f"Critical check {component}:{check} is failing",
        "description": f"{component}:{check} has failed for 2 minutes. It is critical: /readyz answers 503, so the "
        f"application is taken out of service (caused by {cause}).",
        "runbook_url": "https://vigil.example.com/docs/alerts/#vigilcriticalcheckfailing",
        "status_page": f"https://vigil.example.com/status#chk-{component}:{check}",
    }


def test_two_replicas_raise_one_alert_and_vigil_down_pages(tmp_path: Path) -> None:
    """Two Vigils running the same checks: one alert per check, not one per replica; a Vigil Prometheus cannot
    scrape pages on its own, and a failing dependent check carries its root cause for Alertmanager's inhibition."""
    cache = {"component": "cache", "check": "connectivity"}
    login = {"component": "sessions", "check": "login"}
    inputs = []
    for instance in ("vigil-0:8080", "vigil-1:8080"):
        inputs += [
            series("vigil_check_up", "0x30", instance=instance, **cache),
            series(
                "vigil_check_info", "1x30", instance=instance, type="redis", severity="critical", area="redis", **cache
            ),
            series("vigil_check_cause", "1x30", instance=instance, cause="cache", root="true", **cache),
            series("vigil_check_up", "0x30", instance=instance, **login),
            series(
                "vigil_check_info", "1x30", instance=instance, type="redis", severity="critical", area="redis", **login
            ),
            series("vigil_check_cause", "1x30", instance=instance, cause="cache", root="false", **login),
        ]
    inputs += [
        series("up", "1x30", job="vigil", instance="vigil-0:8080"),
        series("up", "0x30", job="vigil", instance="vigil-1:8080"),
    ]
    base = {"severity": "page", "area": "redis"}
    suite = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": inputs,
                "alert_rule_test": [
                    {
                        "eval_time": "5m",
                        "alertname": "VigilCriticalCheckFailing",
                        "exp_alerts": [
                            {
                                "exp_labels": {**base, "cause": "cache", "root": "true", **cache},
                                "exp_annotations": critical_annotations("cache", "connectivity", "cache"),
                            },
                            {
                                "exp_labels": {**base, "cause": "cache", "root": "false", **login},
                                "exp_annotations": critical_annotations("sessions", "login", "cache"),
                            },
                        ],
                    },
                    {
                        "eval_time": "5m",
                        "alertname": "VigilDown",
                        "exp_alerts": [
                            {
                                "exp_labels": {"severity": "page", "job": "vigil", "instance": "vigil-1:8080"},
                                "exp_annotations": {
                                    "summary": "Vigil at vigil-1:8080 is down or cannot be scraped",
                                    "description": "Prometheus has not scraped Vigil at vigil-1:8080 for 2 minutes: "
                                    "none of its checks' alerts can fire meanwhile.",
                                    "runbook_url": "https://vigil.example.com/docs/alerts/#vigildown",
                                },
                            },
                        ],
                    },
                ],
            }
        ],
    }
    test_file = tmp_path / "rules-test.yml"
    test_file.write_text(yaml.safe_dump(suite, sort_keys=False))
    done = subprocess.run(["promtool", "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_refused_config_reload_raises_a_ticket_and_a_good_one_clears_it(tmp_path: Path) -> None:
    """vigil-1 refuses its new configuration for good; vigil-0 refuses one for a few minutes, then takes a fixed one."""
    inputs = [
        series("vigil_config_last_reload_successful", "1x5 0x40", job="vigil", instance="vigil-1:8080"),
        series("vigil_config_last_reload_successful", "1x5 0x3 1x37", job="vigil", instance="vigil-0:8080"),
    ]
    labels = {"severity": "ticket", "job": "vigil", "instance": "vigil-1:8080"}
    suite = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": inputs,
                "alert_rule_test": [
                    {"eval_time": "12m", "alertname": "VigilConfigReloadFailed", "exp_alerts": []},  # not yet 10m
                    {
                        "eval_time": "25m",
                        "alertname": "VigilConfigReloadFailed",
                        "exp_alerts": [
                            {
                                "exp_labels": labels,
                                "exp_annotations": {
                                    "summary": "Vigil at vigil-1:8080 refused its new configuration",
                                    "description": "The last configuration reload of Vigil at vigil-1:8080 failed: it "
                                    "keeps running the previous configuration, so the change (new, changed or removed "
                                    "checks) is not in effect. Its log names every problem.",
                                    "runbook_url": "https://vigil.example.com/docs/alerts/#vigilconfigreloadfailed",
                                },
                            }
                        ],
                    },
                ],
            }
        ],
    }
    test_file = tmp_path / "rules-test.yml"
    test_file.write_text(yaml.safe_dump(suite, sort_keys=False))
    done = subprocess.run(["promtool", "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
