"""The cost curve: what one `vigil serve` costs at 100, 1,000 and 5,000 checks, per check and per run.

Each size is a fresh `vigil serve` of Redis connectivity checks at a 15 s interval (10 components sharing one
private redis-server, 8 connections each), measured after `--warmup` seconds (first runs spread, every check
settled on its phase) for `--seconds`: CPU per run (user + system from /proc over the window, divided by the runs
counted), RSS and RSS per check, /metrics end to end by curl (gzip, as Prometheus asks) and per series, /health
with details by curl, and the scheduler's start lag p99 (vigil_scheduler_lag_seconds, every check, read at each
scrape). Flat per-check figures mean linear growth.
Usage: .venv/bin/python bench/cost_curve.py [--sizes 100,1000,5000] [--warmup 35] [--seconds 30]
       (short: --warmup 25 --seconds 15)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from bench.probes import cpu_seconds, wait_http  # noqa: E402
from bench.scale import rss_kib  # noqa: E402
from bench.scrape import curl  # noqa: E402
from devenv.servers import RedisServer, free_port  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
COMPONENTS = 10
GZIP = ("Accept-Encoding: gzip", "Accept: text/plain;version=0.0.4;q=0.5,*/*;q=0.1")


def write_config(directory: Path, redis_url: str, checks: int) -> Path:
    per = max(1, checks // COMPONENTS)
    config = {
        "defaults": {"interval": "15s", "timeout": "2s"},
        "server": {"show_details": "always"},
        "components": {
            f"cache{c}": {
                "type": "redis",
                "url": redis_url,
                "max_connections": 8,
                "checks": {f"k{i}": {"kind": "connectivity"} for i in range(per)},
            }
            for c in range(COMPONENTS)
        },
    }
    path = directory / f"vigil-{checks}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        body: bytes = response.read()
    return body


def counters(body: bytes) -> tuple[float, float, list[float], int]:
    """(runs, failed runs, every check's last start lag, Vigil series) from one exposition."""
    runs = failed = 0.0
    lags: list[float] = []
    series = 0
    for family in text_string_to_metric_families(body.decode()):
        if family.name.startswith("vigil_"):
            series += len(family.samples)
        for sample in family.samples:
            if sample.name == "vigil_check_runs_total":
                runs += sample.value
                failed += sample.value if sample.labels.get("status") == "fail" else 0.0
            elif sample.name == "vigil_scheduler_lag_seconds":
                lags.append(sample.value)
    return runs, failed, lags, series


def one_size(redis_url: str, directory: Path, checks: int, warmup: float, seconds: float) -> dict[str, float]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--config", str(write_config(directory, redis_url, checks))]
        + ["--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(base + "/livez", timeout=120)
        time.sleep(warmup)
        bodies = [fetch(base + "/metrics")]
        cpu0, began = cpu_seconds(proc.pid), time.monotonic()
        scrapes: list[float] = []
        healths: list[float] = []
        # A scrape and a dashboard read every 5 s (their cost is part of running Vigil), lag sampled each time.
        while (left := began + seconds - time.monotonic()) > 0:
            time.sleep(min(5.0, left))
            scrapes.append(curl(base + "/metrics", *GZIP)[0])
            healths.append(curl(base + "/health")[0])
            bodies.append(fetch(base + "/metrics"))
        cpu1, ended = cpu_seconds(proc.pid), time.monotonic()
        rss = rss_kib(proc.pid) * 1024.0
    finally:
        proc.terminate()
        proc.wait(15)
    runs0, failed0, _, _ = counters(bodies[0])
    runs1, failed1, _, series = counters(bodies[-1])
    lags = sorted(lag for body in bodies[1:] for lag in counters(body)[2])
    runs = runs1 - runs0
    return {
        "checks": checks,
        "runs": runs,
        "runs_per_s": runs / (ended - began),
        "failed": failed1 - failed0,
        "cpu_per_run_ms": (cpu1 - cpu0) * 1000 / max(1.0, runs),
        "cpu_share": (cpu1 - cpu0) / (ended - began),
        "rss_mib": rss / 1048576,
        "rss_per_check_kib": rss / 1024 / checks,
        "series": series,
        "metrics_ms": statistics.median(scrapes) * 1000,
        "metrics_us_per_series": statistics.median(scrapes) * 1e6 / series,
        "health_ms": statistics.median(healths) * 1000,
        "lag_p99_ms": lags[max(0, int(len(lags) * 0.99) - 1)] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--warmup", type=float, default=35.0, help="seconds after startup before measuring")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured seconds per size")
    args = parser.parse_args()
    if not shutil.which("curl"):
        sys.exit("curl is not installed (apt-get install -y curl)")
    tmp = Path(tempfile.mkdtemp(prefix="vigil-cost-"))
    redis = RedisServer().start()
    rows = []
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            rows.append(one_size(redis.url, tmp, size, args.warmup, args.seconds))
            print(f"measured {size} checks", file=sys.stderr, flush=True)
    finally:
        redis.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"## cost curve: Redis connectivity checks at 15 s, {args.seconds:g} s measured after {args.warmup:g} s, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}\n"
    )
    print(
        "| checks | runs/s | failed | CPU per run | CPU share | RSS | RSS per check | /metrics (gzip) | per series "
        "| /health | lag p99 |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    for r in rows:
        print(
            f"| {int(r['checks']):,} | {r['runs_per_s']:.0f} | {int(r['failed'])} | {r['cpu_per_run_ms']:.2f} ms "
            f"| {r['cpu_share'] * 100:.0f}% | {r['rss_mib']:.0f} MiB | {r['rss_per_check_kib']:.1f} KiB "
            f"| {r['metrics_ms']:.0f} ms | {r['metrics_us_per_series']:.2f} µs | {r['health_ms']:.0f} ms "
            f"| {r['lag_p99_ms']:.1f} ms |"
        )
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        marginal = (last["rss_mib"] - first["rss_mib"]) * 1024 / (last["checks"] - first["checks"])
        print(f"\nRSS per added check ({int(first['checks']):,} -> {int(last['checks']):,}): {marginal:.1f} KiB")


if __name__ == "__main__":
    main()
