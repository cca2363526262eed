"""One stopped dependency, one sentence: the same shape, address and cause whatever its type (app/clients/errors.py)
and whichever command shows it (`vigil serve`'s /health and /readyz?verbose, `vigil check --format json`); a port
that speaks another protocol is worded, never a traceback. Real servers, stopped; real `vigil` processes."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from devenv.servers import free_port
from tests.conftest import HttpTarget, http, reach

VIGIL = str(Path(sys.executable).with_name("vigil"))
FAST = {"connect_timeout": "500ms", "socket_timeout": "500ms", "pool_timeout": "200ms"}
DEFAULTS = {"interval": "1s", "timeout": "900ms", "failure_threshold": 1, "jitter": 0.1}


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}


def write(tmp_path: Path, components: dict[str, Any]) -> Path:
    config = tmp_path / "vigil.yaml"
    document = {"defaults": DEFAULTS, "server": {"show_details": "always"}, "components": components}
    config.write_text(yaml.safe_dump(document))
    return config


def check_json(config: Path) -> tuple[dict[str, str], str]:
    """`vigil check --format json`: each check's output, and what it wrote to stderr."""
    result = subprocess.run(
        [VIGIL, "check", "--format", "json", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env(),
        check=False,
    )
    assert result.returncode == 1, result.stderr
    checks = json.loads(result.stdout)["checks"]
    return {check_id: entries[0]["output"] for check_id, entries in checks.items()}, result.stderr


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@contextlib.contextmanager
def serving(config: Path, log: list[str]) -> Any:
    """`vigil serve` on a free port; its stderr (the log) is appended to `log` once it stopped."""
    port = free_port()
    proc = subprocess.Popen(
        [VIGIL, "serve", "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
    )
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        log.append(err)


def served_outputs(base: str, proc: subprocess.Popen[str], ids: set[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Once every check in `ids` has failed: each one's output in /health, and its reason in /readyz?verbose."""
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, proc.communicate()
        with contextlib.suppress(OSError):
            _, body = get(f"{base}/health")
            checks = json.loads(body).get("checks", {})
            failed = [c[0] for i, c in checks.items() if i in ids and c[0]["status"] == "fail"]
            if len(failed) == len(ids) and not any(c["output"].startswith("pending") for c in failed):
                break
        assert time.monotonic() < deadline, "the stopped dependencies never all failed"
        time.sleep(0.2)
    health = {i: checks[i][0]["output"] for i in ids}
    status, text = get(f"{base}/readyz?verbose")
    assert status == 503
    readyz = {}
    for line in text.splitlines():
        if line.startswith("[-]"):
            check_id, _, reason = line[3:].partition(" failed: ")
            readyz[check_id] = reason
    return health, readyz


def test_a_stopped_dependency_reads_alike_whatever_its_type_and_command(
    tmp_path: Path, redis_factory: Any, clickhouse_factory: Any
) -> None:
    redis, clickhouse = redis_factory(), clickhouse_factory()
    redis.kill()
    clickhouse.kill()
    web = free_port()  # an HTTP target that stopped: nothing listens there any more
    components = {
        "cache": {"type": "redis", "url": redis.url, **FAST},
        "events": {"type": "clickhouse", "host": "127.0.0.1", "port": clickhouse.tcp_port, **FAST},
        "api": http(f"http://127.0.0.1:{web}", connect_timeout=0.5, up=reach("/")),
    }
    expected = {
        "cache:connectivity": f"cannot reach Redis at 127.0.0.1:{redis.port}: connection refused",
        "events:connectivity": f"cannot reach ClickHouse at 127.0.0.1:{clickhouse.tcp_port}: connection refused",
        "api:up": f"cannot reach the HTTP server at 127.0.0.1:{web}: connection refused",
    }
    config = write(tmp_path, components)
    gate, stderr = check_json(config)
    assert gate == expected
    assert "Traceback" not in stderr
    log: list[str] = []
    with serving(config, log) as (base, proc):
        health, readyz = served_outputs(base, proc, set(expected))
    assert health == expected
    assert readyz == expected
    assert "Traceback" not in log[0]


def test_a_port_speaking_another_protocol_is_worded_not_a_bug(
    tmp_path: Path, http_target: HttpTarget, redis_server: Any
) -> None:
    """A redis:// URL at an HTTP server, ClickHouse at an HTTP and at a Redis port: a sentence, no traceback."""
    components = {
        "cache": {"type": "redis", "url": f"redis://127.0.0.1:{http_target.port}/0", **FAST},
        "events": {"type": "clickhouse", "host": "127.0.0.1", "port": http_target.port, **FAST},
        "rollups": {"type": "clickhouse", "host": "127.0.0.1", "port": redis_server.port, **FAST},
    }
    expected = {
        "cache:connectivity": f"127.0.0.1:{http_target.port} does not speak the Redis protocol",
        "events:connectivity": f"127.0.0.1:{http_target.port} does not speak the ClickHouse native protocol",
        # Redis reads ClickHouse's binary hello as the start of an inline command and waits for its end
        "rollups:connectivity": (
            f"cannot reach ClickHouse at 127.0.0.1:{redis_server.port}: no answer within the 500 ms connect timeout"
        ),
    }
    config = write(tmp_path, components)
    gate, stderr = check_json(config)
    assert gate == expected
    assert "Traceback" not in stderr and "unexpected error" not in stderr
    log: list[str] = []
    with serving(config, log) as (base, proc):
        health, _ = served_outputs(base, proc, set(expected))
    assert health == expected
    assert "Traceback" not in log[0] and "unexpected error" not in log[0]
