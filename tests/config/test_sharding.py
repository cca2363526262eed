"""Sharding across processes: three real `vigil serve` processes on one config (`shard: {count: 3}`, each its index
from VIGIL_SHARD__INDEX, as the chart's StatefulSet gives it) together run every check exactly once."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from app.config.specs import shard_of
from app.model import CheckId
from devenv.servers import free_port
from tests.conftest import HttpTarget

SHARDS = 3
CHECKS = ("home", "login", "search", "cart", "checkout", "health")
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def expected_shard(check_id: str, count: int) -> int:
    """The documented rule, computed here independently: rendezvous hashing, the shard whose weight (the first 8
    bytes of sha256 of `component:check|index`, big-endian) is highest. Pinned because changing it would move
    checks between replicas."""
    weights = [int.from_bytes(hashlib.sha256(f"{check_id}|{i}".encode()).digest()[:8], "big") for i in range(count)]
    return weights.index(max(weights))


def test_growing_the_shard_count_moves_about_one_in_n_checks() -> None:
    """3 -> 4 replicas moves about a quarter of the checks (each moved one restarts its history elsewhere), and
    every check still has exactly one shard at each count."""
    ids = [CheckId(f"component-{n // 10}", f"check-{n % 10}") for n in range(1000)]
    before = {check_id: shard_of(check_id, 3) for check_id in ids}
    after = {check_id: shard_of(check_id, 4) for check_id in ids}
    moved = [check_id for check_id in ids if before[check_id] != after[check_id]]
    assert len(moved) < 350, len(moved)
    assert all(after[check_id] == 3 for check_id in moved), "a check only moves to the new shard"
    assert all(expected_shard(str(check_id), 4) == after[check_id] for check_id in ids)
    for count in (1, 2, 3, 4, 5):
        shares = Counter(shard_of(check_id, count) for check_id in ids)
        assert set(shares) == set(range(count))
        assert min(shares.values()) > 1000 / count * 0.8, shares


def get(url: str) -> tuple[int, str]:
    try:
        with OPENER.open(url, timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except OSError:
        return 0, ""


def vigil_command() -> list[str]:
    script = shutil.which("vigil", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "app.cli"]


def runs_per_check(metrics: str) -> Counter[str]:
    runs: Counter[str] = Counter()
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if sample.name == "vigil_check_runs_total":
                runs[f"{sample.labels['component']}:{sample.labels['check']}"] += int(sample.value)
    return runs


def test_three_shards_run_every_check_exactly_once(http_target: HttpTarget, tmp_path: Path) -> None:
    # Twelve checks, each on its own path of the target, run once at startup: the hour-long interval keeps a
    # second run out of the test, so "exactly once" is exact, on the metrics and on the target's side.
    components = {}
    paths = {}
    for n, component in enumerate(("api", "web")):
        checks = {}
        for m, check in enumerate(CHECKS):
            code = 200 + 10 * n + m
            paths[f"{component}:{check}"] = f"/status/{code}"
            checks[check] = {"kind": "reachable", "path": f"/status/{code}", "expect_status": [code]}
        components[component] = {"type": "http", "url": http_target.url, "connect_timeout": 0.5, "checks": checks}
    config = tmp_path / "vigil.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "shard": {"count": SHARDS},
                "defaults": {"interval": "1h", "timeout": "2s", "jitter": 0},
                "server": {"host": "127.0.0.1", "shutdown_grace": "1s"},
                "components": components,
            }
        )
    )
    expected = {check_id: expected_shard(check_id, SHARDS) for check_id in paths}
    assert set(expected.values()) == set(range(SHARDS)), "every shard should have checks for the test to mean much"
    hits_before = {path: http_target.hits.get(path, 0) for path in paths.values()}

    ports = [free_port() for _ in range(SHARDS)]
    processes = []
    try:
        for index, port in enumerate(ports):
            env = {**os.environ, "VIGIL_SHARD__INDEX": str(index)}
            env.pop("VIGIL_CONFIG", None)
            with (tmp_path / f"shard-{index}.log").open("w") as log:
                processes.append(
                    subprocess.Popen(
                        [*vigil_command(), "serve", "--config", str(config), "--port", str(port)],
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        # /startupz is 200 once every check of the shard has run once.
        deadline = time.monotonic() + 30
        waiting = set(range(SHARDS))
        while waiting and time.monotonic() < deadline:
            for index in list(waiting):
                assert processes[index].poll() is None, (tmp_path / f"shard-{index}.log").read_text()
                if get(f"http://127.0.0.1:{ports[index]}/startupz")[0] == 200:
                    waiting.discard(index)
            time.sleep(0.1)
        assert not waiting, f"shards {sorted(waiting)} not started"

        total: Counter[str] = Counter()
        for index, port in enumerate(ports):
            status, metrics = get(f"http://127.0.0.1:{port}/metrics")
            assert status == 200
            runs = runs_per_check(metrics)
            # Each shard reports exactly its own checks, by the documented hash.
            assert set(runs) == {c for c, shard in expected.items() if shard == index}, index
            total.update(runs)
        assert total == dict.fromkeys(paths, 1)
        # And the target saw each check's request once: no shard ran another's check.
        assert {c: http_target.hits.get(p, 0) - hits_before[p] for c, p in paths.items()} == dict.fromkeys(paths, 1)
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = [process.wait(10) for process in processes]
    assert codes == [0] * SHARDS
