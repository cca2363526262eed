"""The whole alerting path with real parts: two `vigil serve` replicas, Debian's Prometheus loading the shipped rules
(their `for:` shortened), Debian's Alertmanager loading the shipped example (receivers pointed at a webhook on
loopback, waits shortened), and a real Redis that is killed and started again."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from app.model import Status
from devenv.alerting import Alertmanager, WebhookReceiver
from devenv.servers import RedisServer, free_port
from tests.conftest import make_settings, serve, wait_until

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "examples" / "prometheus-rules.yml"
ALERTMANAGER = ROOT / "examples" / "alertmanager.yml"
FOR = "3s"  # every alert's `for:` in the test: long enough that a check's first second of failing settles its cause
BURN_FOR = "15s"  # burn-rate alerts come after the failing alerts, as they do at real rates (minutes of failures)


def test_the_alertmanager_example_is_valid() -> None:
    done = subprocess.run(["amtool", "check-config", str(ALERTMANAGER)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 inhibit rules" in done.stdout


def fast_rules(directory: Path) -> Path:
    rules = yaml.safe_load(RULES.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "alert" in rule and "for" in rule:
                rule["for"] = FOR
            elif rule.get("alert", "").endswith("Burn"):
                rule["for"] = BURN_FOR
    path = directory / "rules.yml"
    path.write_text(yaml.safe_dump(rules))
    return path


@contextlib.contextmanager
def prometheus(targets: list[str], rules: Path, alertmanager: str, directory: Path) -> Iterator[str]:
    """Debian's Prometheus scraping `targets` and sending alerts to `alertmanager`, every second."""
    port = free_port()
    config: dict[str, Any] = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": [{"job_name": "vigil", "static_configs": [{"targets": targets}]}],
    }
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
    with (directory / "prometheus.log").open("w") as log:
        process = subprocess.Popen(
            [
                shutil.which("prometheus") or "/usr/bin/prometheus",
                f"--config.file={directory / 'prometheus.yml'}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(15)


def settings(redis_url: str) -> Any:
    fast = {"interval": "500ms", "timeout": "400ms", "failure_threshold": 1, "success_threshold": 1, "jitter": 0}
    redis = {"type": "redis", "url": redis_url, "connect_timeout": 0.2, "socket_timeout": 0.2, "pool_timeout": 0.1}
    return make_settings(
        defaults=fast,
        components={
            "cache": {**redis, "checks": {"connectivity": {}}},
            # Three checks of a component that needs the cache: they fail with it, and must not page for it.
            "sessions": {
                **redis,
                "depends_on": ["cache"],
                "checks": {name: {"kind": "connectivity"} for name in ("login", "cart", "profile")},
            },
        },
    )


def outage_notifications(webhook: WebhookReceiver) -> list[dict[str, Any]]:
    """Firing notifications about checks. Alerts about Vigil itself (VigilRunsNotJudged, VigilScrapeSlow, ...) carry
    no component and may rightly fire when the machine running this test is starved; they are not the outage's."""
    return [
        n
        for n in webhook.notifications
        if n["status"] == "firing" and any("component" in a["labels"] for a in n["alerts"])
    ]


def with_status(status: str, alerts: list[dict[str, Any]], **labels: str) -> list[dict[str, Any]]:
    return [a for a in alerts if a["status"] == status and all(a["labels"].get(k) == v for k, v in labels.items())]


async def test_a_redis_outage_pages_once_for_redis_and_resolves(tmp_path: Path) -> None:
    redis = RedisServer().start()
    webhook = WebhookReceiver()
    alertmanager = Alertmanager(yaml.safe_load(ALERTMANAGER.read_text()), webhook.url).start()
    try:
        async with serve(settings(redis.url)) as one, serve(settings(redis.url)) as two:
            targets = [url.removeprefix("http://") for url in (one.url, two.url)]
            with prometheus(targets, fast_rules(tmp_path), alertmanager.url.removeprefix("http://"), tmp_path):
                await wait_until(lambda: all(s.last is not None for s in one.store.states.values()), 10, "first runs")
                redis.kill()
                # The root cause pages: once, from two replicas, with what a person needs in the notification.
                await wait_until(
                    lambda: with_status("firing", webhook.alerts(), component="cache"), 60, "the page for the cache"
                )
                pages = outage_notifications(webhook)
                assert len(pages) == 1, pages
                assert len(pages[0]["alerts"]) == 1, [a["labels"] for a in pages[0]["alerts"]]
                (alert,) = pages[0]["alerts"]
                assert alert["labels"]["alertname"] == "VigilCriticalCheckFailing"
                assert {k: alert["labels"][k] for k in ("component", "check", "severity", "area", "cause", "root")} == {
                    "component": "cache",
                    "check": "connectivity",
                    "severity": "page",
                    "area": "redis",
                    "cause": "cache",
                    "root": "true",
                }
                annotations = alert["annotations"]
                assert "cache:connectivity" in annotations["summary"]
                assert "/readyz" in annotations["description"]
                assert annotations["runbook_url"].endswith("#vigilcriticalcheckfailing")
                assert annotations["status_page"].endswith("/status#chk-cache:connectivity")

                # The three sessions checks fail too: Alertmanager holds their alerts, muted by the cache's.
                def inhibited() -> bool:
                    held = [a for a in alertmanager.alerts() if a["labels"].get("component") == "sessions"]
                    return len(held) == 3 and all(a["status"]["inhibitedBy"] for a in held)

                await wait_until(inhibited, 60, "the sessions alerts held and inhibited")
                assert not [a for a in webhook.alerts() if a["labels"].get("component") == "sessions"]
                assert len(outage_notifications(webhook)) == 1
                # Started again: the page resolves.
                redis.start()
                await wait_until(
                    lambda: with_status("resolved", webhook.alerts(), component="cache"), 60, "the resolved page"
                )
    finally:
        alertmanager.cleanup()
        webhook.close()
        redis.cleanup()


async def test_an_outage_inside_a_maintenance_window_pages_nobody(tmp_path: Path) -> None:
    """The cache is under planned maintenance: its outage raises no alert. A queue on another Redis, killed at the
    same moment and outside the window, pages as usual, which shows the cache would have by then."""
    cache_redis, queue_redis = RedisServer().start(), RedisServer().start()
    webhook = WebhookReceiver()
    alertmanager = Alertmanager(yaml.safe_load(ALERTMANAGER.read_text()), webhook.url).start()
    now = datetime.now(UTC)
    base = settings(cache_redis.url)
    config = make_settings(
        defaults=base.defaults.model_dump(),
        components={
            **{name: component.model_dump() for name, component in base.components.items()},
            "queue": {
                "type": "redis",
                "url": queue_redis.url,
                "connect_timeout": 0.2,
                "socket_timeout": 0.2,
                "pool_timeout": 0.1,
                "checks": {"connectivity": {}},
            },
        },
        maintenance=[
            {
                "name": "redis upgrade",
                "start": (now - timedelta(minutes=5)).isoformat(),
                "end": (now + timedelta(hours=1)).isoformat(),
                "components": ["cache", "sessions"],
            }
        ],
    )
    try:
        async with serve(config) as one:
            with prometheus(
                [one.url.removeprefix("http://")],
                fast_rules(tmp_path),
                alertmanager.url.removeprefix("http://"),
                tmp_path,
            ):
                await wait_until(lambda: all(s.last is not None for s in one.store.states.values()), 10, "first runs")
                cache_redis.kill()
                queue_redis.kill()
                await wait_until(
                    lambda: with_status("firing", webhook.alerts(), component="queue"), 60, "the page for the queue"
                )
                assert one.store.states[("cache", "connectivity")].effective is Status.FAIL  # down, and not ready
                assert not one.store.ready
                assert not [a for a in webhook.alerts() if a["labels"].get("component") in ("cache", "sessions")]
                assert not [a for a in alertmanager.alerts() if a["labels"].get("component") in ("cache", "sessions")]
    finally:
        alertmanager.cleanup()
        webhook.close()
        cache_redis.cleanup()
        queue_redis.cleanup()
