"""A resolver that never answers must not stall /metrics or healthy checks (found by faulting Vigil).

Vigil runs in a private mount namespace whose /etc/resolv.conf points at a loopback UDP port that reads queries
and never replies; `localhost` still resolves from /etc/hosts.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from devenv.servers import free_port
from tests.conftest import BLACK_HOLE, http, reach

VIGIL = str(Path(sys.executable).with_name("vigil"))

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare for a private resolv.conf"
)


def scrape(port: int) -> tuple[float, dict[str, Any]]:
    started = time.monotonic()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=15) as response:
        body = response.read().decode()
    return time.monotonic() - started, {f.name: f for f in text_string_to_metric_families(body)}


def sample(families: dict[str, Any], family: str, **labels: str) -> float:
    values = [s.value for s in families[family].samples if all(s.labels.get(k) == v for k, v in labels.items())]
    return float(sum(values))


def test_a_hung_resolver_stalls_neither_metrics_nor_healthy_checks(
    silent_resolver: socket.socket, http_target: Any, tmp_path: Path
) -> None:
    (tmp_path / "resolv.conf").write_text(f"nameserver {BLACK_HOLE}\noptions timeout:5 attempts:2\n")
    # Sixteen names that never resolve: more blocked lookups than the loop's default executor has threads.
    components = {
        "healthy": http(f"http://localhost:{http_target.port}", ok=reach("/ok")),
        **{f"hung{i}": http(f"http://api{i}.vigil-resolver-test.example/", n0=reach("/")) for i in range(16)},
    }
    config = tmp_path / "vigil.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "defaults": {"interval": "3s", "timeout": "2s", "failure_threshold": 1, "jitter": 0.1},
                "server": {"show_details": "always"},
                "components": components,
            }
        )
    )
    port = free_port()
    command = (
        f"mount --bind {tmp_path / 'resolv.conf'} /etc/resolv.conf && exec {VIGIL} serve --config {config} "
        f"--host 127.0.0.1 --port {port}"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    proc = subprocess.Popen(
        ["unshare", "-m", "sh", "-c", command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, proc.communicate()
            with contextlib.suppress(OSError):
                _, families = scrape(port)
                if sample(families, "vigil_check_runs", component="healthy") >= 1:
                    break
            assert time.monotonic() < deadline, "vigil never ran the healthy check"
            time.sleep(0.1)
        # Past the HTTP client's 10 s answer cache for localhost, with 16 lookups hanging: every scrape stays
        # quick and the healthy check keeps passing.
        slowest = 0.0
        until = time.monotonic() + 16
        while time.monotonic() < until:
            took, families = scrape(port)
            slowest = max(slowest, took)
            time.sleep(0.2)
        assert slowest < 2.0, f"a /metrics scrape took {slowest:.1f}s"
        assert sample(families, "vigil_check_runs", component="healthy", status="fail") == 0
        assert sample(families, "vigil_check_runs", component="healthy", status="pass") >= 5
        assert sample(families, "vigil_check_up", component="hung0") == 0
        with pytest.raises(urllib.error.HTTPError) as failing:  # 503: the hung part fails, by its deadline
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health/hung0/n0", timeout=5)
        assert failing.value.code == 503
        output = json.loads(failing.value.read().decode())["checks"]["hung0:n0"][0]["output"]
        assert output.startswith("DNS lookup of api0.vigil-resolver-test.example got no answer within "), output
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def test_hung_lookups_of_redis_and_clickhouse_names_starve_no_healthy_check(
    silent_resolver: socket.socket, http_target: Any, redis_server: Any, clickhouse_server: Any, tmp_path: Path
) -> None:
    """8 Redis and 2 ClickHouse components whose names never resolve: more hung lookups than libuv's 4 threads.
    Each client resolves on its own pool, so the healthy http, Redis and ClickHouse checks on localhost pass every
    run, and a hung lookup is worded as the tcp type words it."""
    (tmp_path / "resolv.conf").write_text(f"nameserver {BLACK_HOLE}\noptions timeout:5 attempts:2\n")
    fast = {"connect_timeout": "500ms", "socket_timeout": "500ms", "pool_timeout": "200ms"}
    components = {
        "api": http(f"http://localhost:{http_target.port}", ok=reach("/ok")),
        "cache": {"type": "redis", "url": f"redis://localhost:{redis_server.port}/0", **fast},
        "events": {"type": "clickhouse", "host": "localhost", "port": clickhouse_server.tcp_port, **fast},
        **{
            f"lost{i}": {"type": "redis", "url": f"redis://cache{i}.vigil-resolver-test.example:6379/0", **fast}
            for i in range(8)
        },
        **{f"far{i}": {"type": "clickhouse", "host": f"ch{i}.vigil-resolver-test.example", **fast} for i in range(2)},
    }
    config = tmp_path / "vigil.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "defaults": {"interval": "2s", "timeout": "1500ms", "failure_threshold": 1, "jitter": 0.1},
                "server": {"show_details": "always"},
                "components": components,
            }
        )
    )
    port = free_port()
    command = (
        f"mount --bind {tmp_path / 'resolv.conf'} /etc/resolv.conf && exec {VIGIL} serve --config {config} "
        f"--host 127.0.0.1 --port {port}"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_") and k != "UV_THREADPOOL_SIZE"}
    proc = subprocess.Popen(
        ["unshare", "-m", "sh", "-c", command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    healthy = ("api", "cache", "events")

    def hung(name: str) -> tuple[str, str]:  # waiting on the lookup, or there when the resolver library gave up
        return (
            f"DNS lookup of {name} got no answer within 500 ms",
            f"DNS lookup of {name} failed: Temporary failure in name resolution",
        )

    try:
        deadline = time.monotonic() + 60
        while True:  # each healthy check through six runs: past the resolver's 10 s answer cache for localhost
            assert proc.poll() is None, proc.communicate()
            with contextlib.suppress(OSError):
                _, families = scrape(port)
                if all(sample(families, "vigil_check_runs", component=name) >= 6 for name in healthy):
                    break
            assert time.monotonic() < deadline, "vigil never ran the healthy checks six times"
            time.sleep(0.2)
        for name in healthy:
            assert sample(families, "vigil_check_runs", component=name, status="fail") == 0, name
        with pytest.raises(urllib.error.HTTPError) as failing:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health/lost0/connectivity", timeout=5)
        output = json.loads(failing.value.read().decode())["checks"]["lost0:connectivity"][0]["output"]
        assert output in hung("cache0.vigil-resolver-test.example")
        with pytest.raises(urllib.error.HTTPError) as failing:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health/far0/connectivity", timeout=5)
        output = json.loads(failing.value.read().decode())["checks"]["far0:connectivity"][0]["output"]
        assert output in hung("ch0.vigil-resolver-test.example")
    finally:
        proc.terminate()
        try:
            _, log = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, log = proc.communicate()
        print(log)  # shown when the test fails: each check's transitions, with the reason
