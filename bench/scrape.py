"""/metrics as a scraper sees it, timed by curl, while 1,000 checks run: plain, gzip (what Prometheus asks for),
and scrapes alternating with /health (a dashboard open beside Prometheus).

`vigil serve` runs the live config of bench/scale.py (10 Redis components, 1,000 connectivity checks at 5 s, 200
runs/s against one private redis-server). Each figure is curl's time_total (connect to last byte).
Usage: .venv/bin/python bench/scrape.py [--checks 1000] [--scrapes 30] [--warmup 20]
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.probes import wait_http  # noqa: E402
from bench.scale import write_config  # noqa: E402
from devenv.servers import RedisServer, free_port  # noqa: E402


def curl(url: str, *headers: str) -> tuple[float, int]:
    """(seconds, bytes received) of one GET by curl, as a scraper sees it."""
    args = ["curl", "-s", "-o", "/dev/null", "-w", "%{time_total} %{size_download}", "--max-time", "30"]
    for header in headers:
        args += ["-H", header]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), int(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--scrapes", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=20, help="seconds after startup before measuring")
    args = parser.parse_args()
    if not shutil.which("curl"):
        sys.exit("curl is not installed (apt-get install -y curl)")
    tmp = Path(tempfile.mkdtemp(prefix="vigil-scrape-"))
    redis = RedisServer().start()
    port = free_port()
    path = write_config(tmp, redis.url, args.checks)
    command = [sys.executable, "-m", "app.cli", "serve", "--config", str(path), "--host", "127.0.0.1"]
    proc = subprocess.Popen(
        [*command, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parent.parent,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/readyz", timeout=60)
        time.sleep(args.warmup)
        gzip = "Accept-Encoding: gzip"
        prometheus = "Accept: text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        cases: dict[str, list[tuple[float, int]]] = {"plain": [], "gzip": [], "gzip, alternating with /health": []}
        for _ in range(args.scrapes):
            cases["plain"].append(curl(base + "/metrics"))
            time.sleep(0.2)
            cases["gzip"].append(curl(base + "/metrics", gzip, prometheus))
            time.sleep(0.2)
            curl(base + "/health")
            cases["gzip, alternating with /health"].append(curl(base + "/metrics", gzip, prometheus))
            time.sleep(0.2)
        print(
            f"{args.checks} checks at 5 s (200 runs/s), {args.scrapes} scrapes each, curl time_total, "
            f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}\n"
        )
        print("| /metrics | median | p90 | bytes |\n|---|---:|---:|---:|")
        for name, results in cases.items():
            times = sorted(t for t, _ in results)
            p90 = times[int(len(times) * 0.9) - 1]
            print(f"| {name} | {statistics.median(times) * 1000:.1f} ms | {p90 * 1000:.1f} ms | {results[-1][1]:,} |")
    finally:
        proc.terminate()
        proc.wait(10)
        redis.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
