"""The show-details rule, once for every reader: /health, /status.json (and the page), /readyz?verbose; and a latest
run that hysteresis holds back, said by each of them. Through a real `vigil serve` with a real Redis."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from app.api.auth import Verifier
from app.api.details import details_for, details_warning
from devenv.servers import free_port
from tests.conftest import AUTH, http, make_settings, make_token, reach
from tests.test_cli import VIGIL, env, write

REDIS_TIMEOUTS = {"connect_timeout": 0.2, "socket_timeout": 0.2, "pool_timeout": 0.1}
STARTUP = 15.0  # seconds for `vigil serve` to start and run its first checks on a loaded machine


def fetch(url: str, token: str | None = None, method: str = "GET") -> tuple[int, str]:
    request = urllib.request.Request(url, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


class Served:
    def __init__(self, base: str) -> None:
        self.base = base
        self.err = ""  # stderr, once the process exited


@contextmanager
def vigil_serve(tmp_path: Path, data: dict[str, Any]) -> Iterator[Served]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [VIGIL, "serve", "--config", write(tmp_path, data), "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
    served = Served(base)
    try:
        deadline = time.monotonic() + STARTUP
        while True:
            assert proc.poll() is None, "vigil serve exited"
            try:
                if fetch(base + "/startupz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "vigil serve never ran its first checks"
            time.sleep(0.05)
        yield served
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            served.err = proc.communicate(timeout=10)[1]
        except subprocess.TimeoutExpired:
            proc.kill()
            served.err = proc.communicate()[1]


@pytest.mark.parametrize(
    ("mode", "auth", "header", "shown", "note"),
    [
        ("always", None, None, True, None),
        ("never", AUTH, "valid", False, "server.show_details: never"),
        ("when_authorized", AUTH, "valid", True, None),
        ("when_authorized", AUTH, None, False, "until a valid bearer token is sent"),
        ("when_authorized", AUTH, "Bearer nope", False, "until a valid bearer token is sent"),
        ("when_authorized", None, "valid", False, "no auth is configured"),
    ],
)
def test_one_rule_and_what_it_says_when_it_hides(
    mode: str, auth: dict[str, Any] | None, header: str | None, shown: bool, note: str | None
) -> None:
    settings = make_settings(server={"show_details": mode}, auth=auth, components={})
    authorization = f"Bearer {make_token()}" if header == "valid" else header
    details = details_for(settings, Verifier(settings.auth), authorization)
    assert details.shown is shown
    assert (details.note is None) is (note is None)
    if note is not None:
        assert details.note is not None and note in details.note
    # Nobody can ever be authorized: said at startup.
    assert (details_warning(settings) is not None) is (mode == "when_authorized" and auth is None)


def test_when_authorized_without_auth_warns_at_startup_and_withholds_reasons_everywhere(
    tmp_path: Path, http_target: Any
) -> None:
    data = {
        "defaults": {"interval": "1h", "timeout": "1s", "failure_threshold": 1, "jitter": 0},
        "components": {"api": http(http_target.url, ok=reach("/ok"), down=reach("/status/500"))},
    }
    with vigil_serve(tmp_path, data) as served:
        base = served.base
        status, verbose = fetch(base + "/readyz?verbose")
        assert status == 503
        # Every check listed with its state; the reason withheld, as kube-apiserver does.
        assert verbose == "[-]api:down failed: reason withheld\n[+]api:ok ok\nreadyz check failed\n"
        assert "HTTP 500" not in fetch(base + "/health")[1]
        document = json.loads(fetch(base + "/status.json")[1])
        assert document["details"] is False
        assert "no auth is configured" in document["detailsNote"]
        assert "server.show_details: always" in document["detailsNote"]  # and how to see them
        assert all(row["output"] is None for c in document["components"] for row in c["checks"])
    err = served.err
    assert "server.show_details is when_authorized but no auth is configured" in err
    assert "Traceback" not in err


def test_a_failed_run_below_the_threshold_is_said_by_every_reader(tmp_path: Path, redis_factory: Any) -> None:
    """Pass, yet the latest run failed (1 of 3 before it is reported as failing): /readyz?verbose, /status.json and
    /health say so; the reason only to who may see it."""
    redis = redis_factory()
    data = {
        "defaults": {"interval": "1h", "timeout": "1s", "failure_threshold": 3, "jitter": 0},
        "server": {"show_details": "when_authorized", "run_cooldown": 0},
        "auth": AUTH,
        "components": {"cache": {"type": "redis", "url": redis.url, **REDIS_TIMEOUTS, "checks": {"connectivity": {}}}},
    }
    token = make_token(expires_in=600)
    with vigil_serve(tmp_path, data) as served:
        base = served.base
        assert fetch(base + "/readyz?verbose") == (200, "[+]cache:connectivity ok\nreadyz check passed\n")
        redis.terminate()
        status, body = fetch(base + "/checks/cache/connectivity/run", token=token, method="POST")
        assert status == 200  # the run failed, the check still passes (hysteresis)
        assert json.loads(body)["runs"]["cache:connectivity"]["status"] == "fail"

        anonymous = fetch(base + "/readyz?verbose")
        held = "[+]cache:connectivity ok: last run failed (1 of 3 before it is reported as failing)"
        assert anonymous == (200, f"{held}: reason withheld\nreadyz check passed\n")
        status, verbose = fetch(base + "/readyz?verbose", token=token)
        assert status == 200 and verbose.startswith(f"{held}: ") and "withheld" not in verbose
        reason = verbose.splitlines()[0].removeprefix(f"{held}: ")
        assert str(redis.port) in reason, reason

        page = json.loads(fetch(base + "/status.json", token=token)[1])
        row = page["components"][0]["checks"][0]
        assert (row["state"], row["output"]) == ("pass", None)
        assert row["unconfirmed"] == {"status": "fail", "runs": 1, "needed": 3, "output": reason}
        readiness = page["readiness"]
        assert (readiness["ready"], readiness["unconfirmed"]) == (True, ["cache:connectivity"])
        assert "cache:connectivity" in readiness["reason"] and readiness["since"] <= page["generated"]
        hidden = json.loads(fetch(base + "/status.json")[1])["components"][0]["checks"][0]["unconfirmed"]
        assert hidden == {"status": "fail", "runs": 1, "needed": 3, "output": None}

        entry = json.loads(fetch(base + "/health", token=token)[1])["checks"]["cache:connectivity"][0]
        assert (entry["status"], entry["lastResult"]["status"]) == ("pass", "fail")
