"""Vigil's forecast beside Prometheus' predict_linear() on the same growing Redis, in one run.

A Redis with a 24 MiB maxmemory (noeviction) is filled at a steady ~1.3 MB/s; `vigil serve` runs its memory check
every 250 ms with `forecast: {window: 6s, horizon: 60s}`; a real Prometheus scrapes Vigil every 1 s. Each second
the bench asks both: Vigil (`vigil_check_forecast_seconds`) and
`predict_linear(vigil_check_observed{measure="memory_utilisation_ratio"}[6s], 60) > 0.95` (the same window and
horizon). Reported: when each first warned, its predicted breach time at that moment, and the real breach (the
check's first fail), as seconds after the writer started.
Usage: .venv/bin/python bench/forecast.py
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis  # noqa: E402
import yaml  # noqa: E402

from bench.probes import wait_http  # noqa: E402
from devenv.servers import RedisServer, free_port  # noqa: E402

MAXMEMORY = 24 * 1024 * 1024


def get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())
    except urllib.error.HTTPError as exc:  # /health answers 503 once the check fails: the body is still the document
        return str(exc.read().decode())


def prom_query(base: str, expr: str) -> list[dict[str, object]]:
    body = json.loads(get(f"{base}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"))
    return list(body["data"]["result"])


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="vigil-forecast-"))
    server = RedisServer(extra=["--maxmemory", str(MAXMEMORY), "--maxmemory-policy", "noeviction"]).start()
    vigil_port, prom_port = free_port(), free_port()
    config = {
        "defaults": {"jitter": 0},
        "server": {"show_details": "always"},
        "components": {
            "cache": {
                "type": "redis",
                "url": server.url,
                "connect_timeout": 0.15,
                "socket_timeout": 0.15,
                "pool_timeout": 0.1,
                "checks": {
                    "memory": {
                        "interval": "250ms",
                        "timeout": "200ms",
                        "failure_threshold": 1,
                        "forecast": {"window": "6s", "horizon": "60s"},
                    }
                },
            }
        },
    }
    (tmp / "vigil.yaml").write_text(yaml.safe_dump(config))
    vigil = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.cli",
            "serve",
            "--config",
            str(tmp / "vigil.yaml"),
            "--host",
            "127.0.0.1",
            "--port",
            str(vigil_port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    (tmp / "prometheus.yml").write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "scrape_configs": [{"job_name": "vigil", "static_configs": [{"targets": [f"127.0.0.1:{vigil_port}"]}]}],
            }
        )
    )
    prometheus = subprocess.Popen(
        [
            shutil.which("prometheus") or "/usr/bin/prometheus",
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{prom_port}"
    stop = threading.Event()

    def writer() -> None:
        client = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=1)
        n = 0
        while not stop.is_set():
            try:
                client.set(f"blob:{n}", b"x" * 65536)
            except redis.exceptions.ResponseError:
                return
            n += 1
            stop.wait(0.05)

    first: dict[str, tuple[float, float]] = {}
    breach = None
    try:
        wait_http(f"http://127.0.0.1:{vigil_port}/readyz", 30)
        wait_http(f"{base}/-/ready", 30)
        time.sleep(8)  # Prometheus has a few scrapes of the flat series
        started = time.monotonic()
        threading.Thread(target=writer, daemon=True).start()
        while time.monotonic() - started < 60 and breach is None:
            now = time.monotonic() - started
            health = json.loads(get(f"http://127.0.0.1:{vigil_port}/health/cache/memory"))
            entry = health["checks"]["cache:memory"][0]
            if entry["status"] == "fail":
                breach = now
            if "vigil" not in first and "forecast" in entry:
                first["vigil"] = (now, now + entry["forecast"]["breachIn"])
            if "predict_linear" not in first:
                ahead = prom_query(
                    base, 'predict_linear(vigil_check_observed{measure="memory_utilisation_ratio"}[6s], 60)'
                )
                current = prom_query(base, 'vigil_check_observed{measure="memory_utilisation_ratio"}')
                if ahead and current:
                    value, ratio = float(ahead[0]["value"][1]), float(current[0]["value"][1])  # type: ignore[index]
                    if value > 0.95 and ratio < 0.95:
                        # predict_linear gives a value, not a time: solve the same line for the crossing.
                        rate = (value - ratio) / 60
                        first["predict_linear"] = (now, now + (0.95 - ratio) / rate if rate > 0 else float("nan"))
            time.sleep(0.25)
    finally:
        stop.set()
        for proc in (vigil, prometheus):
            proc.terminate()
            proc.wait(10)
        server.cleanup()
    print("| forecaster (window 6 s, horizon 60 s) | first warned | predicted breach then | real breach | error |")
    print("|---|---:|---:|---:|---:|")
    for name in ("vigil", "predict_linear"):
        if name in first and breach is not None:
            at, predicted = first[name]
            error = abs(predicted - breach) / (breach - at)
            print(f"| {name} | {at:.1f} s | {predicted:.1f} s | {breach:.1f} s | {error:.0%} of the lead |")
        else:
            print(f"| {name} | never | | {breach} | |")


if __name__ == "__main__":
    main()
