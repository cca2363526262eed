"""Reloading a running `vigil serve`: SIGHUP, POST /-/reload and a watched ConfigMap-like directory, against one
real process (module-scoped) whose config file sits behind an atomically swapped `..data` symlink as a kubelet
lays it out. Each scenario publishes the configuration it needs first, so they do not depend on each other."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from prometheus_client.parser import text_string_to_metric_families

from devenv.servers import RedisServer, free_port
from tests.conftest import AUTH, JWT_SECRET, HangingServer, http, make_token, reach, redis_component, within
from tests.test_cli import VIGIL, env, fetch

INTERVAL = 0.4  # seconds: the checks' interval
# Three failures in a row before a check is reported failing: one run slowed down by a busy machine must not make
# /readyz say 503 while a scenario asserts that a reload never does.
FAST = {"interval": "400ms", "timeout": "300ms", "jitter": 0, "failure_threshold": 3, "success_threshold": 1}
# Redis checks with room to spare: their pooled connections must survive the scenario for the ids to be compared.
REDIS_CHECK = {"connectivity": {"interval": "2s", "timeout": "1500ms"}}
REDIS_TIMEOUTS = {"connect_timeout": 1.0, "socket_timeout": 1.0, "pool_timeout": 0.5}
WATCH = {"watch": True, "interval": "200ms"}


class ConfigMap:
    """A directory as the kubelet lays out a ConfigMap or Secret volume: `vigil.yaml -> ..data/vigil.yaml` (or
    `name`), `..data` a link to a timestamped directory; `publish` writes a new directory and swaps `..data` with
    one rename."""

    def __init__(self, root: Path, name: str = "vigil.yaml") -> None:
        self.root = root
        self.versions = 0
        self.name = name
        self.path = root / name

    def publish(self, data: dict[str, Any] | str) -> None:
        self.versions += 1
        old = (self.root / "..data").resolve() if (self.root / "..data").exists() else None
        new = self.root / f"..2026_12_04_{self.versions:04d}"
        new.mkdir()
        (new / self.name).write_text(data if isinstance(data, str) else yaml.safe_dump(data))
        link = self.root / "..data_tmp"
        os.symlink(new.name, link)
        os.replace(link, self.root / "..data")
        if not self.path.is_symlink():
            os.symlink(f"..data/{self.name}", self.path)
        if old is not None:
            shutil.rmtree(old)


class Vigil:
    """The process under test, its config directory and what it logged."""

    def __init__(self, config: ConfigMap, log: Path) -> None:
        self.config = config
        self.log = log
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        command = [VIGIL, "serve", "--config", str(self.config.path), "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("w") as err:
            self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, text=True, env=env())

    def logged(self, text: str) -> int:
        return self.log.read_text().count(text)

    def metrics(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        status, body = fetch(self.base + "/metrics", timeout=5)
        assert status == 200
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(body)
            for sample in family.samples
        }

    def runs(self, check_id: str, status: str | None = None) -> float:
        component, check = check_id.split(":")
        wanted = {("component", component), ("check", check), *([("status", status)] if status else [])}
        return sum(
            value
            for (name, labels), value in self.metrics().items()
            if name == "vigil_check_runs_total" and wanted <= labels
        )

    def components(self) -> set[str]:
        return {dict(labels).get("component", "") for _, labels in self.metrics()} - {""}

    def gauge(self, name: str) -> float:
        return self.metrics()[(name, frozenset())]

    def reload(self, token: str | None = None) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {token or make_token()}"} if token != "" else {}
        status, body = post(self.base + "/-/reload", headers)
        return status, json.loads(body)

    def sighup(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)


def post(url: str, headers: dict[str, str], method: str = "POST") -> tuple[int, str]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, method=method, headers=headers, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def eventually(predicate: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll `predicate` until it holds, for at most `seconds` times the suite's slack."""
    deadline = time.monotonic() + within(seconds)
    while not predicate():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.05)


@contextlib.contextmanager
def readiness_watched(vigil: Vigil) -> Iterator[list[int]]:
    """Polls /readyz in a thread for the duration; yields the statuses seen."""
    seen: list[int] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                seen.append(fetch(vigil.base + "/readyz", timeout=2)[0])
            time.sleep(0.02)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(5)


@pytest.fixture(scope="module")
def hanging() -> Iterator[HangingServer]:
    server = HangingServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.cleanup()


@pytest.fixture(scope="module")
def base(http_target: Any, private_redis: RedisServer) -> dict[str, Any]:
    url = private_redis.url.removesuffix("/0")
    return {
        "defaults": FAST,
        "auth": AUTH,
        "components": {
            "keep": http(http_target.url, ok=reach("/ok")),
            "edit": http(http_target.url, ok=reach("/ok")),
            "gone": http(http_target.url, ok=reach("/ok", severity="degraded")),
            "cache": redis_component(f"{url}/0", checks=REDIS_CHECK, **REDIS_TIMEOUTS),
            "queue": redis_component(f"{url}/1", checks=REDIS_CHECK, **REDIS_TIMEOUTS),
        },
    }


@pytest.fixture(scope="module")
def vigil(tmp_path_factory: pytest.TempPathFactory, base: dict[str, Any]) -> Iterator[Vigil]:
    root = tmp_path_factory.mktemp("configmap")
    config = ConfigMap(root)
    config.publish(base)
    served = Vigil(config, root.parent / "vigil.log")
    served.start()
    try:
        eventually(lambda: fetch(served.base + "/readyz")[0] == 200 if _up(served) else False, 5, "ready")
        yield served
    finally:
        assert served.proc is not None
        served.proc.terminate()
        try:
            served.proc.wait(15)
        except subprocess.TimeoutExpired:
            served.proc.kill()
            served.proc.wait()
        assert "Traceback" not in served.log.read_text(), served.log.read_text()[-4000:]


def _up(vigil: Vigil) -> bool:
    assert vigil.proc is not None and vigil.proc.poll() is None, vigil.log.read_text()
    with contextlib.suppress(OSError):
        fetch(vigil.base + "/livez")
        return True
    return False


def restore(vigil: Vigil, data: dict[str, Any]) -> None:
    """Publish `data` and reload it (the scenario's starting point)."""
    vigil.config.publish(data)
    status, body = vigil.reload()
    assert status == 200, body


def edited(base: dict[str, Any], **components: Any) -> dict[str, Any]:
    """`base` with components replaced (None removes one)."""
    merged = {**base["components"], **components}
    return {**base, "components": {name: c for name, c in merged.items() if c is not None}}


def connections(server: RedisServer) -> dict[int, set[int]]:
    """The ids of the connections open on `server` per database, the caller's own left out."""
    client = redis.Redis(port=server.port, socket_timeout=5)
    try:
        own = client.client_id()
        found: dict[int, set[int]] = {}
        for entry in client.client_list():
            if int(entry["id"]) != own:
                found.setdefault(int(entry["db"]), set()).add(int(entry["id"]))
        return found
    finally:
        client.close()


def closed(conn: socket.socket) -> bool:
    """Whether the peer closed `conn`: what it sent (a request never answered) is read, then the end of the stream."""
    conn.setblocking(False)
    try:
        while conn.recv(65536):
            pass
    except BlockingIOError:
        return False
    except OSError:
        pass
    return True


def rows(document: Any) -> dict[str, dict[str, Any]]:
    """Every check row of a /status.json document by id."""
    found: dict[str, dict[str, Any]] = {}
    if isinstance(document, dict):
        if isinstance(document.get("id"), str) and "durations" in document:
            found[document["id"]] = document
        for value in document.values():
            found.update(rows(value))
    elif isinstance(document, list):
        for value in document:
            found.update(rows(value))
    return found


def test_sighup_keeps_unchanged_checks_and_applies_the_rest(
    vigil: Vigil, base: dict[str, Any], http_target: Any, private_redis: RedisServer
) -> None:
    restore(vigil, base)
    eventually(lambda: all(vigil.runs(c) >= 3 for c in ("keep:ok", "edit:ok", "gone:ok")), 6 * INTERVAL, "runs")
    before_runs = {c: vigil.runs(c) for c in ("keep:ok", "edit:ok")}
    before_rows = rows(json.loads(fetch(vigil.base + "/status.json")[1]))
    before_clients = connections(private_redis)
    applied_at = vigil.gauge("vigil_config_last_reload_success_timestamp_seconds")
    assert before_clients.get(0) and before_clients.get(1), before_clients

    changed_redis = {**base["components"]["queue"], "socket_timeout": 0.9}
    vigil.config.publish(
        edited(
            base,
            edit=http(http_target.url, ok=reach("/ok", severity="degraded")),  # changed: its severity
            gone=None,
            fresh=http(http_target.url, ok=reach("/ok", severity="degraded")),
            queue=changed_redis,  # its client's settings changed: a new client, the old one closed
        )
    )
    with readiness_watched(vigil) as seen:
        vigil.sighup()
        eventually(lambda: vigil.runs("fresh:ok") >= 1 and "gone" not in vigil.components(), 6 * INTERVAL, "reload")
        eventually(lambda: vigil.runs("keep:ok") >= before_runs["keep:ok"] + 2, 6 * INTERVAL, "keep runs on")
    assert seen and set(seen) == {200}, seen  # readiness never flapped

    # Unchanged and changed checks keep their counts, history and recent durations; their runs go on.
    assert vigil.runs("keep:ok") >= before_runs["keep:ok"] + 2
    assert vigil.runs("edit:ok") >= before_runs["edit:ok"]
    after_rows = rows(json.loads(fetch(vigil.base + "/status.json")[1]))
    for check in ("keep:ok", "edit:ok"):
        assert len(after_rows[check]["durations"]) >= len(before_rows[check]["durations"]), check
    assert after_rows["edit:ok"]["severity"] == "degraded"
    assert "gone:ok" not in after_rows and "fresh:ok" in after_rows
    # The removed check is gone from every reader, the metrics' every family included.
    assert not [key for key in vigil.metrics() if ("component", "gone") in key[1]]
    status, body = post(vigil.base + "/health", {"Authorization": f"Bearer {make_token()}"}, method="GET")
    assert "gone:ok" not in json.loads(body)["checks"] and "fresh:ok" in json.loads(body)["checks"], body
    assert vigil.gauge("vigil_config_last_reload_successful") == 1.0
    assert vigil.gauge("vigil_config_last_reload_success_timestamp_seconds") > applied_at
    assert vigil.logged("configuration reloaded (SIGHUP): 1 added, 2 changed, 1 removed, 2 unchanged") == 1

    # The unchanged Redis component kept its connections; the changed one's were closed and opened anew.
    eventually(lambda: not (connections(private_redis).get(1, set()) & before_clients[1]), 4.0, "old client closed")
    after_clients = connections(private_redis)
    assert after_clients[0] == before_clients[0]
    assert after_clients.get(1) and not after_clients[1] & before_clients[1]


def test_post_reload_refuses_a_bad_config_and_changes_nothing(vigil: Vigil, base: dict[str, Any]) -> None:
    restore(vigil, base)
    bad = edited(base, keep={**base["components"]["keep"], "connect_timeout": "soon"}, edit={"type": "nope"})
    vigil.config.publish(bad)
    runs = vigil.runs("keep:ok")
    status, body = vigil.reload()
    assert status == 400, body
    assert body["error"] == "invalid_config"
    assert any(p.startswith("components.keep.connect_timeout:") for p in body["detail"]), body
    assert any(p.startswith("components.edit.type:") for p in body["detail"]), body
    assert JWT_SECRET not in json.dumps(body)
    assert vigil.gauge("vigil_config_last_reload_successful") == 0.0
    eventually(lambda: vigil.runs("keep:ok") >= runs + 2, 6 * INTERVAL, "the old checks run on")
    assert {"keep", "edit", "gone"} <= vigil.components()
    assert vigil.logged("configuration reload (POST /-/reload) refused") == 1
    assert JWT_SECRET not in vigil.log.read_text()

    restore(vigil, base)  # a good one again: the gauge says so
    assert vigil.gauge("vigil_config_last_reload_successful") == 1.0


def test_reload_needs_the_run_scope(vigil: Vigil) -> None:
    status, body = vigil.reload(token="")
    assert status == 401 and body["error"] == "invalid_request"
    status, body = vigil.reload(token=make_token(scope="other"))
    assert status == 403 and body["error"] == "insufficient_scope"
    status, body = vigil.reload(token=make_token(audience="elsewhere"))
    assert status == 401 and body["error"] == "invalid_token"
    status, body = vigil.reload(token=make_token(secret="another-hmac-secret-that-is-long-enough-0123"))
    assert status == 401
    assert post(vigil.base + "/-/reload", {}, method="GET")[0] == 405


def test_settings_only_a_restart_applies_are_reported(vigil: Vigil, base: dict[str, Any]) -> None:
    restore(vigil, base)
    vigil.config.publish({**base, "server": {"port": free_port(), "max_headers": 50}})
    status, body = vigil.reload()
    assert status == 200, body
    assert body["needs_restart"] == ["server.port", "server.max_headers"]
    assert body["added"] == body["changed"] == body["removed"] == []
    assert fetch(vigil.base + "/livez")[0] == 200  # still on the port it started with
    assert vigil.logged("server.port, server.max_headers changed and takes effect only after a restart") == 1


def test_reload_during_a_hung_run_does_not_wait_for_it(
    vigil: Vigil, base: dict[str, Any], hanging: HangingServer
) -> None:
    hung_timeout = 3.0
    stuck = reach("/", severity="degraded", interval="30s", timeout=f"{hung_timeout:g}s")
    restore(vigil, edited(base, hung=http(f"http://127.0.0.1:{hanging.port}/", stuck=stuck)))
    eventually(lambda: bool(hanging.conns), 4 * INTERVAL, "the hung run in flight")
    with readiness_watched(vigil) as seen:
        vigil.config.publish(base)
        started = time.monotonic()
        status, body = vigil.reload()
        answered = time.monotonic() - started
        assert status == 200 and body["removed"] == ["hung:stuck"], body
        assert answered < hung_timeout  # not held by the run in flight
        assert "hung" not in vigil.components()
        assert not closed(hanging.conns[0])  # the run was still in flight
        # The hung run ends at its deadline and its client is closed; its result belongs to no check: dropped.
        eventually(lambda: closed(hanging.conns[0]), hung_timeout, "the hung run over, its client closed")
        assert "hung" not in vigil.components()
    assert set(seen) == {200}, seen


def test_a_watched_config_reloads_on_a_symlink_swap(vigil: Vigil, base: dict[str, Any], http_target: Any) -> None:
    watched = {**base, "reload": WATCH}
    restore(vigil, watched)  # watching starts with this reload
    reloads = vigil.logged("configuration reloaded (file changed)")
    vigil.config.publish(edited(watched, extra=http(http_target.url, ok=reach("/ok", severity="degraded"))))
    eventually(lambda: vigil.runs("extra:ok") >= 1, 2.0, "the swapped config applied by itself")
    assert vigil.logged("configuration reloaded (file changed): 1 added") == 1

    # The same bytes again in a new directory: the file moved but did not change, nothing is reloaded.
    same = edited(watched, extra=http(http_target.url, ok=reach("/ok", severity="degraded")))
    vigil.config.publish(same)
    time.sleep(5 * 0.2)  # five polls of the moved file
    assert vigil.logged("configuration reloaded (file changed)") == reloads + 1
    bad = {**same, "defaults": {**FAST, "interval": "never"}}
    vigil.config.publish(bad)
    eventually(lambda: vigil.gauge("vigil_config_last_reload_successful") == 0.0, 2.0, "the bad swap refused")
    assert vigil.logged("configuration reloaded (file changed)") == reloads + 1
    time.sleep(5 * 0.2)  # five more polls of the same bad file: refused once, not again and again
    assert vigil.logged("configuration reload (file changed) refused") == 1
    restore(vigil, base)  # watching off again


def test_a_rotated_secret_file_is_read_again_by_the_watcher(vigil: Vigil, base: dict[str, Any], tmp_path: Path) -> None:
    """A Redis password kept in a Secret volume is rotated: the server takes the new one, Vigil's connections are
    dropped, and the Secret is swapped. The watcher sees the secret file change (the config did not) and reloads;
    the component's new client authenticates with the new password."""
    first, second = "first-2f7c9a", "second-8d1e4b"
    guarded = RedisServer(password=first).start()
    (tmp_path / "secret").mkdir()
    secret = ConfigMap(tmp_path / "secret", "password")
    secret.publish(first)
    component = redis_component(guarded.url, checks=REDIS_CHECK, password_file=str(secret.path), **REDIS_TIMEOUTS)
    try:
        restore(vigil, edited({**base, "reload": WATCH}, guarded=component))  # watching starts with this reload
        eventually(lambda: vigil.runs("guarded:connectivity", "pass") >= 1, 10, "a run with the first password")
        reloads = vigil.logged("configuration reloaded (file changed): 0 added, 1 changed")
        guarded.cli("CONFIG", "SET", "requirepass", second)
        guarded.password = second
        guarded.cli("CLIENT", "KILL", "TYPE", "normal")  # Vigil's connections, authenticated with the first
        eventually(lambda: vigil.runs("guarded:connectivity", "fail") >= 1, 10, "a run refused the old password")
        passed = vigil.runs("guarded:connectivity", "pass")
        secret.publish(second)
        eventually(
            lambda: vigil.logged("configuration reloaded (file changed): 0 added, 1 changed") == reloads + 1,
            10,
            "a reload for the rotated secret file",
        )
        eventually(lambda: vigil.runs("guarded:connectivity", "pass") > passed, 10, "a run with the new password")
        logged = vigil.log.read_text()
        assert first not in logged and second not in logged
    finally:
        restore(vigil, base)
        guarded.cleanup()
