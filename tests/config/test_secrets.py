"""A secret set in configuration never leaves the process: not in a response body, a log line, a metric,
`vigil config show`, nor `vigil check` output."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.logs import setup_logging
from app.masking import Scrubber
from tests.conftest import AUTH, JWT_SECRET, make_settings, make_token, serve

REDIS_PASSWORD = "redis-field-pw-Xq7"  # redis `password:` field, right
URL_PASSWORD = "url-pw-Kd93"  # inside a redis:// URL, right
WRONG_PASSWORD = "wrong-url-pw-Zp11"  # inside a redis:// URL, refused by the server
FILE_PASSWORD = "file-pw-Mm42"  # from password_file, wrong on purpose (its check fails)
BEARER_TOKEN = "http-bearer-token-Yv55"
HTTP_URL_PASSWORD = "http-url-pw-Rt08"
ENV_JWT_KEY = "env-jwt-key-that-is-long-enough-Wc61"  # from VIGIL_AUTH__KEY, overriding the file
SECRETS = [
    REDIS_PASSWORD,
    URL_PASSWORD,
    WRONG_PASSWORD,
    FILE_PASSWORD,
    BEARER_TOKEN,
    HTTP_URL_PASSWORD,
    JWT_SECRET,
    ENV_JWT_KEY,
]


def config(redis_factory: Any, http_target: Any, tmp_path: Path, refused: int) -> dict[str, Any]:
    first = redis_factory(password=REDIS_PASSWORD)
    second = redis_factory(password=URL_PASSWORD)
    secret_file = tmp_path / "redis-password"
    secret_file.write_text(FILE_PASSWORD + "\n")
    redis_common = {"connect_timeout": 0.2, "socket_timeout": 0.2, "pool_timeout": 0.1}
    return {
        "log_level": "debug",
        "defaults": {"interval": "300ms", "timeout": "250ms", "failure_threshold": 1, "jitter": 0},
        "server": {"show_details": "always", "run_cooldown": 0},
        "auth": AUTH,
        "components": {
            "cache": {
                "type": "redis",
                "url": f"redis://127.0.0.1:{first.port}/0",
                "password": REDIS_PASSWORD,
                **redis_common,
                "checks": {"connectivity": {}},
            },
            "sessions": {
                "type": "redis",
                "url": f"redis://:{URL_PASSWORD}@127.0.0.1:{second.port}/0",
                **redis_common,
                "checks": {"connectivity": {}},
            },
            "wrongpw": {
                "type": "redis",
                "url": f"redis://user:{WRONG_PASSWORD}@127.0.0.1:{first.port}/0",
                **redis_common,
                "checks": {"connectivity": {}},
            },
            "fromfile": {
                "type": "redis",
                "url": f"redis://127.0.0.1:{second.port}/0",
                "password_file": str(secret_file),
                **redis_common,
                "checks": {"connectivity": {"severity": "degraded"}},
            },
            "api": {
                "type": "http",
                "url": http_target.url,
                "bearer_token": BEARER_TOKEN,
                "connect_timeout": 0.1,
                "checks": {"ok": {"kind": "reachable", "path": "/ok"}},
            },
            "legacy": {
                "type": "http",
                "url": f"http://admin:{HTTP_URL_PASSWORD}@127.0.0.1:{refused}/",
                "connect_timeout": 0.1,
                "checks": {"down": {"kind": "reachable", "severity": "degraded"}},
            },
        },
    }


def assert_clean(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked in {where}"


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_no_secret_in_responses_metrics_or_logs(
    redis_factory: Any, http_target: Any, tmp_path: Path, refused_port: int, log_format: str
) -> None:
    settings = make_settings(**config(redis_factory, http_target, tmp_path, refused_port))
    stream = io.StringIO()
    handler = setup_logging(log_format, "debug", Scrubber(settings.secret_values()), stream=stream)
    try:
        async with serve(settings) as served:
            await served.wait(lambda: all(s.last is not None for s in served.store.states.values()), what="runs")
            states = {str(s.check_id): s for s in served.store.states.values()}
            # The setup really exercised both sides: right passwords pass, wrong ones fail.
            assert states["cache:connectivity"].last.status == "pass", states["cache:connectivity"].last
            assert states["sessions:connectivity"].last.status == "pass", states["sessions:connectivity"].last
            assert states["wrongpw:connectivity"].last.status == "fail"
            assert states["fromfile:connectivity"].last.status == "fail"
            assert states["api:ok"].last.status == "pass"
            assert states["legacy:down"].last.status == "fail"

            bearer = {"Authorization": f"Bearer {make_token()}"}
            for method, path, headers in [
                ("get", "/health", {}),
                ("get", "/health", bearer),
                ("get", "/health/wrongpw", {}),
                ("get", "/health/legacy/down", {}),
                ("get", "/readyz?verbose", {}),
                ("get", "/readyz/wrongpw?verbose", {}),
                ("get", "/startupz", {}),
                ("get", "/metrics", {}),
                ("get", "/openapi.json", {}),
                ("get", "/docs", {}),
                ("post", "/checks/run", bearer),
                ("post", "/checks/wrongpw/connectivity/run", bearer),
                ("post", "/checks/run", {"Authorization": "Bearer garbage"}),
                ("post", "/checks/run", {}),
            ]:
                status, body, response_headers = await getattr(served, method)(path, headers=headers)
                assert status in (200, 401, 503), (path, body)
                assert_clean(body, f"{method.upper()} {path}")
                assert_clean(str(dict(response_headers)), f"headers of {path}")
            # The failure reasons are there, just without the secret.
            _, body, _ = await served.get("/health/wrongpw")
            assert json.loads(body)["checks"]["wrongpw:connectivity"][0]["output"]
    finally:
        for name in ("vigil", "uvicorn", "uvicorn.error"):
            logging.getLogger(name).removeHandler(handler)
    logs = stream.getvalue()
    assert "wrongpw:connectivity" in logs  # transitions were logged
    assert "legacy:down" in logs
    if log_format == "json":
        lines = [json.loads(line) for line in logs.splitlines()]
        assert any(line.get("check") == "wrongpw:connectivity" and line.get("new") == "fail" for line in lines)
    assert_clean(logs, f"{log_format} logs")


def vigil(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env["VIGIL_AUTH__KEY"] = ENV_JWT_KEY
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], check=False, capture_output=True, text=True, timeout=30, env=env
    )


def test_no_secret_in_cli_output(redis_factory: Any, http_target: Any, tmp_path: Path, refused_port: int) -> None:
    path = tmp_path / "vigil.yaml"
    path.write_text(yaml.safe_dump(config(redis_factory, http_target, tmp_path, refused_port)))

    shown = vigil("config", "show", "--config", str(path))
    assert shown.returncode == 0, shown.stderr
    assert_clean(shown.stdout + shown.stderr, "config show")
    assert yaml.safe_load(shown.stdout) == json.loads(
        vigil("config", "show", "--format", "json", "--config", str(path)).stdout
    )
    shown = vigil("config", "show", "--format", "json", "--config", str(path))
    assert_clean(shown.stdout + shown.stderr, "config show --format json")
    effective = json.loads(shown.stdout)
    assert effective["components"]["sessions"]["url"].startswith("redis://:***@127.0.0.1:")
    assert effective["components"]["legacy"]["url"] == f"http://admin:***@127.0.0.1:{refused_port}/"
    assert effective["components"]["cache"]["password"] != REDIS_PASSWORD
    assert effective["auth"]["key"] == "**********"  # the environment's key, hidden like the file's

    assert vigil("config", "validate", "--config", str(path)).returncode == 0

    junit = tmp_path / "report.xml"
    for args in (["--format", "table"], ["--format", "json"], ["--format", "junit", "--output", str(junit)]):
        result = vigil("check", "--config", str(path), *args)
        assert result.returncode == 1, result.stderr  # wrongpw is critical and fails
        assert_clean(result.stdout + result.stderr, f"vigil check {' '.join(args)}")
    assert_clean(junit.read_text(), "junit report")
    assert "wrongpw" in junit.read_text()
