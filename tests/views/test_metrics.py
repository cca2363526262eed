"""GET /metrics over real HTTP: every family the contract lists, with values and labels read from the store."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families

from app import __version__
from app.model import Status
from app.views.metrics import Exposition
from tests.conftest import AUTH, FAST, http, make_settings, make_token, serve, within

FAMILIES = {
    "vigil_check_up": "gauge",
    "vigil_check_runs_unjudged": "counter",
    "vigil_check_status": "gauge",
    "vigil_check_duration_seconds": "histogram",
    "vigil_check_runs": "counter",
    "vigil_check_observed": "gauge",
    "vigil_check_last_run_timestamp_seconds": "gauge",
    "vigil_check_last_success_timestamp_seconds": "gauge",
    "vigil_check_consecutive_failures": "gauge",
    "vigil_ready": "gauge",
    "vigil_scheduler_lag_seconds": "gauge",
    "vigil_build_info": "gauge",  # an info metric is a gauge named *_info in the text format
}


# One run is all some tests need: a timeout with room for a starved machine, so the first run of `ok` passes.
STEADY = {**FAST, "interval": "2s", "timeout": "1500ms"}


def settings_for(http_target: Any, defaults: dict[str, Any] = FAST, **extra: Any) -> Any:
    return make_settings(
        defaults=defaults,
        auth=AUTH,
        server={"run_cooldown": 0},
        components={
            "api": http(
                http_target.url,
                0.1 if defaults is FAST else 1.0,
                ok={"kind": "reachable", "path": "/ok"},
                teapot={"kind": "reachable", "path": "/status/418", "severity": "degraded"},
            ),
            **extra,
        },
    )


async def scrape(served: Any) -> dict[str, Any]:
    status, body, headers = await served.get("/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=")
    return {family.name: family for family in text_string_to_metric_families(body)}


def value(families: dict[str, Any], family: str, sample: str | None = None, **labels: str) -> float:
    matches = [
        s.value
        for s in families[family].samples
        if (sample is None or s.name == sample) and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(matches) == 1, (family, sample, labels, matches)
    return float(matches[0])


def label_sets(families: dict[str, Any], family: str) -> set[tuple[tuple[str, str], ...]]:
    return {tuple(sorted(s.labels.items())) for s in families[family].samples}


async def test_every_family_with_values_and_labels(http_target: Any) -> None:
    async with serve(settings_for(http_target, STEADY)) as served:
        await served.wait(lambda: all(s.last is not None for s in served.store.states.values()), what="first runs")
        families = await scrape(served)
        for name, kind in FAMILIES.items():
            assert name in families, name
            assert families[name].type == kind, name
        ok, teapot = {"component": "api", "check": "ok"}, {"component": "api", "check": "teapot"}

        assert value(families, "vigil_check_up", **ok) == 1
        assert value(families, "vigil_check_up", **teapot) == 0
        for status in ("pass", "warn", "fail"):
            assert value(families, "vigil_check_status", **ok, status=status) == (status == "pass")
            assert value(families, "vigil_check_status", **teapot, status=status) == (status == "fail")
        assert value(families, "vigil_ready") == 1  # the degraded failure does not gate readiness
        assert value(families, "vigil_check_consecutive_failures", **ok) == 0
        assert value(families, "vigil_check_consecutive_failures", **teapot) >= 1

        now = time.time()
        last_run = value(families, "vigil_check_last_run_timestamp_seconds", **ok)
        assert now - 5 < last_run <= now
        assert (
            value(families, "vigil_check_last_success_timestamp_seconds", **ok) == last_run
            or now - 5 < value(families, "vigil_check_last_success_timestamp_seconds", **ok) <= now
        )
        # A check that never passed has no last-success sample.
        assert label_sets(families, "vigil_check_last_success_timestamp_seconds") == {
            (("check", "ok"), ("component", "api"))
        }
        assert 0 <= value(families, "vigil_scheduler_lag_seconds", **ok) < within(2.0)  # the interval

        observed = {
            s.labels["measure"]: s.value for s in families["vigil_check_observed"].samples if s.labels["check"] == "ok"
        }
        assert set(observed) == {"latency_seconds", "status_code"}
        assert observed["status_code"] == 200
        assert 0 < observed["latency_seconds"] < 1.5  # inside the timeout: a later answer is no pass

        count = value(families, "vigil_check_duration_seconds", "vigil_check_duration_seconds_count", **ok)
        inf = value(families, "vigil_check_duration_seconds", "vigil_check_duration_seconds_bucket", **ok, le="+Inf")
        total = value(families, "vigil_check_duration_seconds", "vigil_check_duration_seconds_sum", **ok)
        assert count == inf >= 1
        assert 0 < total < count * 1.5
        buckets = [
            s
            for s in families["vigil_check_duration_seconds"].samples
            if s.name.endswith("_bucket") and s.labels["check"] == "ok"
        ]
        assert [b.value for b in buckets] == sorted(b.value for b in buckets)  # cumulative

        build = families["vigil_build_info"].samples
        assert len(build) == 1
        assert build[0].name == "vigil_build_info"
        assert build[0].labels["version"] == __version__
        assert build[0].value == 1

        # Labels come from configuration only: no output text, no URL.
        for family in families.values():
            for sample in family.samples:
                for label_value in sample.labels.values():
                    assert http_target.url not in label_value
                    assert "HTTP 418" not in label_value


async def test_runs_total_counts_every_run_by_status(http_target: Any) -> None:
    settings = make_settings(
        defaults={**FAST, "interval": "30s", "timeout": "1s", "initial_delay": "30s"},
        auth=AUTH,
        server={"run_cooldown": 0},
        components={
            "api": http(
                http_target.url,
                0.1,
                ok={"kind": "reachable", "path": "/ok"},
                down={"kind": "reachable", "path": "/status/500"},
            ),
        },
    )
    bearer = {"Authorization": f"Bearer {make_token()}"}
    async with serve(settings) as served:
        families = await scrape(served)
        for check in ("ok", "down"):
            for status in ("pass", "warn", "fail"):
                assert (
                    value(
                        families,
                        "vigil_check_runs",
                        "vigil_check_runs_total",
                        component="api",
                        check=check,
                        status=status,
                    )
                    == 0
                )
        assert value(families, "vigil_ready") == 0
        assert value(families, "vigil_check_up", component="api", check="ok") == 0  # pending is not up
        assert (
            "vigil_check_last_run_timestamp_seconds" not in families
            or not families["vigil_check_last_run_timestamp_seconds"].samples
        )

        for _ in range(3):
            assert (await served.post("/checks/api/ok/run", headers=bearer))[0] == 200
        for _ in range(2):
            assert (await served.post("/checks/api/down/run", headers=bearer))[0] == 503
        families = await scrape(served)
        runs = {
            (s.labels["check"], s.labels["status"]): s.value
            for s in families["vigil_check_runs"].samples
            if s.name == "vigil_check_runs_total"
        }
        assert runs == {
            ("ok", "pass"): 3,
            ("ok", "warn"): 0,
            ("ok", "fail"): 0,
            ("down", "pass"): 0,
            ("down", "warn"): 0,
            ("down", "fail"): 2,
        }
        assert (
            value(
                families,
                "vigil_check_duration_seconds",
                "vigil_check_duration_seconds_count",
                component="api",
                check="ok",
            )
            == 3
        )
        assert value(families, "vigil_check_consecutive_failures", component="api", check="down") == 2
        assert value(families, "vigil_ready") == 0


async def test_runs_total_follows_the_schedule(http_target: Any) -> None:
    async with serve(settings_for(http_target)) as served:
        state = served.store.states[("api", "ok")]
        await served.wait(lambda: state.runs[state.last.status] >= 3 if state.last else False, what="three runs")
        families = await scrape(served)
        scraped = value(
            families, "vigil_check_runs", "vigil_check_runs_total", component="api", check="ok", status="pass"
        )
        assert scraped >= 3
        await served.wait(lambda: state.runs[Status.PASS] > scraped, what="another run")
        families = await scrape(served)
        later = value(
            families, "vigil_check_runs", "vigil_check_runs_total", component="api", check="ok", status="pass"
        )
        assert later >= scraped + 1  # counted at scrape time from the store, never reset


async def test_metrics_use_a_registry_per_app(http_target: Any) -> None:
    async with serve(settings_for(http_target)) as first, serve(make_settings(defaults=FAST)) as second:
        a, b = await scrape(first), await scrape(second)
        assert {s.labels["component"] for s in a["vigil_check_up"].samples} == {"api"}
        assert "vigil_check_up" not in b or not b["vigil_check_up"].samples
        assert value(b, "vigil_ready") == 1  # no critical checks: vacuously ready


async def test_promtool_accepts_the_exposition(http_target: Any) -> None:
    """Prometheus's own linter (promtool from the Debian prometheus package) on a real scrape."""
    async with serve(settings_for(http_target)) as served:
        await served.wait(lambda: served.store.startup_complete, 5, "first runs")
        status, body, _ = await served.get("/metrics")
    assert status == 200
    done = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "" and done.stderr.strip() == ""


async def test_concurrent_scrapes_share_one_render_off_the_event_loop() -> None:
    """Exposition renders in a worker thread, and scrapes arriving during a render share it."""

    class SlowCollector:
        def __init__(self) -> None:
            self.calls = 0
            self.threads: set[int] = set()

        def collect(self) -> Any:
            self.calls += 1
            self.threads.add(threading.get_ident())
            time.sleep(0.2)  # a large configuration's render
            gauge = GaugeMetricFamily("vigil_test_renders", "renders so far")
            gauge.add_metric([], self.calls)
            yield gauge

    registry = CollectorRegistry(auto_describe=False)
    collector = SlowCollector()
    registry.register(collector)  # type: ignore[arg-type]
    exposition = Exposition(registry)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    loop_task = asyncio.create_task(ticker())
    bodies = await asyncio.gather(*(exposition.render() for _ in range(10)))
    loop_task.cancel()
    assert collector.calls == 1
    assert len(set(bodies)) == 1 and b"vigil_test_renders 1.0" in bodies[0]
    assert threading.get_ident() not in collector.threads
    assert ticks >= 5  # the event loop kept running during the 0.2 s render
    assert b"vigil_test_renders 2.0" in await exposition.render()  # the next scrape renders afresh


async def test_render_formats_the_snapshot_taken_on_the_loop() -> None:
    """The worker thread formats numbers copied on the loop: a result recorded meanwhile is not half in it."""
    from prometheus_client import generate_latest

    from app.main import build_engine
    from app.model import CheckResult
    from app.views.metrics import build_exposition, take_snapshot
    from tests.conftest import http, reach

    store, _ = build_engine(make_settings(components={"api": http("http://127.0.0.1:1/", ok=reach("/"))}))
    exposition = build_exposition(store)
    store.record(CheckResult("api", "ok", "http", Status.PASS, "ok", (), time.time(), 0.02), 1.0)
    snapshot = take_snapshot(store)
    store.record(CheckResult("api", "ok", "http", Status.FAIL, "down", (), time.time(), 3.0), 2.0)
    assert exposition.collector is not None
    with exposition.collector.pinned(snapshot):
        pinned = {f.name: f for f in text_string_to_metric_families(generate_latest(exposition.registry).decode())}
    labels = {"component": "api", "check": "ok"}
    assert value(pinned, "vigil_check_runs", "vigil_check_runs_total", status="pass", **labels) == 1
    assert value(pinned, "vigil_check_runs", "vigil_check_runs_total", status="fail", **labels) == 0
    assert value(pinned, "vigil_check_duration_seconds", "vigil_check_duration_seconds_count", **labels) == 1
    assert value(pinned, "vigil_check_up", **labels) == 1

    live = {f.name: f for f in text_string_to_metric_families((await exposition.render()).decode())}
    count = value(live, "vigil_check_duration_seconds", "vigil_check_duration_seconds_count", **labels)
    infinite = value(live, "vigil_check_duration_seconds", "vigil_check_duration_seconds_bucket", le="+Inf", **labels)
    total = value(live, "vigil_check_duration_seconds", "vigil_check_duration_seconds_sum", **labels)
    assert count == infinite == 2 and total == pytest.approx(3.02)
