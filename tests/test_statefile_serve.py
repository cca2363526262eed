"""The state file with real `vigil serve` processes against a real HTTP target: SIGKILL and restart (history, states
and the timeline continue), the write at SIGTERM, a removed check, unusable files (one log line, a blank start)
and a read-only directory (reported, never fatal).

One topology (the session's HTTP target) for the module; each scenario starts the processes it needs, in order.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from devenv.servers import free_port
from tests.conftest import http, reach, within
from tests.test_cli import VIGIL, env, fetch

PASSWORD = "pa55-in-the-url"
INITIAL_DELAY = 3.0  # seconds before the first run of a process: its restored state is seen before any run
INTERVAL = 10.0
TIMEOUT = 1.0
START = 20.0  # seconds for `vigil serve` to answer on a loaded machine


def config(path: Path, target: str, *, removed: bool = False, every: str = "1s") -> dict[str, Any]:
    user_url = target.replace("http://", f"http://probe:{PASSWORD}@")
    checks: dict[str, Any] = {"ok": reach("/ok"), "broken": reach("/status/500")}
    # Its output names the URL, password and all: masked when made, and so in the file.
    checks["scrape"] = {
        "kind": "resources",
        "metrics_path": "/status/404",
        "memory_limit": "1GiB",
        "severity": "degraded",
    }
    if not removed:
        checks["teapot"] = reach("/status/418", severity="degraded")
    return {
        "defaults": {
            "interval": f"{INTERVAL}s",
            "timeout": f"{TIMEOUT}s",
            "initial_delay": f"{INITIAL_DELAY}s",
            "failure_threshold": 3,
            "jitter": 0,
        },
        "state": {"path": str(path), "interval": every, "instance": "vigil-test"},
        "components": {"api": http(user_url, **checks)},
    }


class Served:
    def __init__(self, tmp: Path, data: dict[str, Any], name: str, wrap: list[str] | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        conf = tmp / f"{name}.yaml"
        conf.write_text(yaml.safe_dump(data))
        command = [VIGIL, "serve", "--config", str(conf), "--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = subprocess.Popen(
            [*(wrap or []), *command], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env()
        )
        self.log = ""

    def wait_up(self) -> None:
        deadline = time.monotonic() + within(START)
        while True:
            assert self.proc.poll() is None, self.proc.communicate()
            with contextlib.suppress(OSError):
                if fetch(self.base + "/livez")[0] == 200:
                    return
            assert time.monotonic() < deadline, "vigil serve never answered"
            time.sleep(0.05)

    def status(self) -> dict[str, Any]:
        code, body = fetch(self.base + "/status.json", timeout=5)
        assert code == 200, body
        return json.loads(body)  # type: ignore[no-any-return]

    def rows(self) -> dict[str, dict[str, Any]]:
        return {row["id"]: row for c in self.status()["components"] for row in c["checks"]}

    def metric(self, name: str) -> float:
        for line in fetch(self.base + "/metrics", timeout=5)[1].splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        raise AssertionError(f"{name} not in /metrics")

    def runs(self, check: str) -> float:
        """This process's runs of `check` (run counters start at 0 in every process: they are not restored)."""
        lines = fetch(self.base + "/metrics", timeout=5)[1].splitlines()
        mine = [line for line in lines if line.startswith("vigil_check_runs_total{") and f'check="{check}"' in line]
        return sum(float(line.rsplit(" ", 1)[1]) for line in mine)

    def settled_rows(self, check: str) -> tuple[dict[str, dict[str, Any]], float]:
        """The rows and the runs of `check`, read with no run of it in between (the same count before and after)."""
        while True:
            runs = self.runs(check)
            rows = self.rows()
            if self.runs(check) == runs:
                return rows, runs

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        _, self.log = self.proc.communicate(timeout=within(10))
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        if self.proc.stderr is not None and not self.proc.stderr.closed:
            _, self.log = self.proc.communicate()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Any]:
    started: list[Served] = []

    def start(data: dict[str, Any], name: str, wrap: list[str] | None = None) -> Served:
        process = Served(tmp_path, data, name, wrap)
        started.append(process)
        process.wait_up()
        return process

    yield start
    for process in started:
        process.kill()


def until(predicate: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + within(seconds)
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def saved(path: Path) -> dict[str, Any]:
    with contextlib.suppress(OSError, ValueError):
        return json.loads(path.read_bytes())  # type: ignore[no-any-return]
    return {}


KEPT = ("state", "bar", "barProblems", "availability", "failures", "lastRun", "durations", "unconfirmed")


def test_sigkill_restart_continues_and_sigterm_writes(tmp_path: Path, http_target: Any, served: Any) -> None:
    path = tmp_path / "state" / "state.json"
    path.parent.mkdir()
    first = served(config(path, http_target.url), "first")
    until(lambda: all(r["lastRun"] for r in first.rows().values()), INITIAL_DELAY + TIMEOUT + 5, "the first runs")
    # A write after the last run: what the file holds is what the page shows (the second runs come at a random
    # phase of the interval, so wait for a quiet moment).
    deadline = time.monotonic() + within(3 * INTERVAL)
    while True:
        last = max(r["lastRun"] for r in first.rows().values())
        until(lambda last=last: saved(path).get("written_at", 0) > last + 0.5, 5, "a write after the runs")
        before = first.status()
        if max(r["lastRun"] for c in before["components"] for r in c["checks"]) == last:
            break
        assert time.monotonic() < deadline, "never a second without a run"
    assert first.metric("vigil_state_file_writes_total") > 0  # result="error" comes second
    first.kill()  # SIGKILL: no write at exit
    killed_at = time.time()
    assert PASSWORD not in path.read_text() and "http://probe:***@127.0.0.1" in path.read_text()

    second = served(config(path, http_target.url, every="1h"), "second")  # writes only at shutdown now
    after = second.status()
    rows_before = {r["id"]: r for c in before["components"] for r in c["checks"]}
    rows_after = {r["id"]: r for c in after["components"] for r in c["checks"]}
    assert all(r["lastRun"] < killed_at for r in rows_after.values()), "a run came before INITIAL_DELAY passed"
    for check_id, row in rows_before.items():
        assert {k: rows_after[check_id][k] for k in KEPT} == {k: row[k] for k in KEPT}, check_id
    assert after["transitions"] == before["transitions"]
    assert rows_after["api:broken"]["state"] == "fail"
    assert fetch(second.base + "/readyz")[0] == 503  # the failing critical check stays failing
    assert fetch(second.base + "/startupz")[0] == 503  # this process has not run its checks yet
    # The next run is judged against the restored counts: one more failure in a row, not the first.
    until(lambda: second.rows()["api:broken"]["lastRun"] > killed_at, INITIAL_DELAY + TIMEOUT + 5, "a run")
    rows, runs = second.settled_rows("broken")  # after its first run a check takes a random phase: maybe 2 runs
    assert runs >= 1 and rows["api:broken"]["failures"] == rows_before["api:broken"]["failures"] + runs
    new_run = rows["api:ok"]["lastRun"]
    assert second.stop() == 0
    document = saved(path)
    assert document["written_at"] > killed_at  # the write at shutdown (the periodic one is an hour away)
    ok = next(c for c in document["checks"] if c["id"] == "api:ok")
    # The write at shutdown holds the run seen before stopping, or one that came after it.
    assert ok["state"]["last"]["started_at"] + ok["state"]["last"]["duration"] > new_run - 0.01
    assert "state file" in second.log and "restored" in second.log and "Traceback" not in second.log

    # A check removed from the configuration is dropped from the file.
    third = served(config(path, http_target.url, removed=True, every="1h"), "third")
    assert "api:teapot" not in third.rows()
    assert third.stop() == 0
    assert "1 no longer configured dropped" in third.log
    assert sorted(c["id"] for c in saved(path)["checks"]) == ["api:broken", "api:ok", "api:scrape"]
    assert PASSWORD not in path.read_text()


def test_unusable_files_start_blank_with_one_log_line(tmp_path: Path, http_target: Any, served: Any) -> None:
    path = tmp_path / "state.json"
    first = served(config(path, http_target.url, every="1h"), "first")
    until(lambda: all(r["lastRun"] for r in first.rows().values()), INITIAL_DELAY + TIMEOUT + 5, "the first runs")
    assert first.stop() == 0
    good = path.read_bytes()
    document = json.loads(good)
    for name, content, reason in (
        ("truncated", good[: len(good) * 2 // 3], "not a readable state file"),
        ("other shard", json.dumps({**document, "shard": [1, 2]}).encode(), "written by shard 1 of 2"),
    ):
        path.write_bytes(content)
        process = served(config(path, http_target.url, every="1h"), name.replace(" ", "-"))
        rows = process.rows()
        assert all(r["lastRun"] is None and r["state"] == "pending" for r in rows.values()), (name, rows)
        assert all(set(r["bar"]) == {"-"} for r in rows.values()), name
        assert process.stop() == 0
        lines = [line for line in process.log.splitlines() if "state file" in line]
        assert len(lines) == 1 and reason in lines[0] and "starting blank" in lines[0], (name, process.log)


def test_a_read_only_directory_is_reported_not_fatal(tmp_path: Path, http_target: Any, served: Any) -> None:
    directory = tmp_path / "ro"
    directory.mkdir()
    path = directory / "state.json"
    # A read-only bind mount in a mount namespace of its own (root ignores permission bits, not EROFS).
    wrap = [
        "unshare",
        "-m",
        "sh",
        "-c",
        f'mount --bind {directory} {directory} && mount -o remount,bind,ro {directory} && exec "$@"',
        "vigil",
    ]
    process = served(config(path, http_target.url, every="1s"), "read-only", wrap)
    until(lambda: process.metric('vigil_state_file_writes_total{result="error"}') >= 3, 10, "three failed writes")
    assert fetch(process.base + "/livez")[0] == 200
    assert process.stop() == 0  # the last write fails the same way: still a clean exit
    lines = [line for line in process.log.splitlines() if "not written" in line]
    assert len(lines) == 1 and "Read-only file system" in lines[0], process.log
    assert not path.exists()
