"""Probe throughput: /readyz (and friends) on a running Vigil, next to an empty ASGI app, same uvicorn, same run.

Vigil runs 40 checks every second against a private redis-server while wrk hammers it, so the figure is
"probes while checks run". Prints a markdown table; ratios are the comparable numbers between machines.
Usage: .venv/bin/python bench/probes.py [--duration 10] [--connections 50]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.servers import RedisServer, free_port  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def wait_http(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(url)


def wrk(url: str, duration: int, connections: int) -> float:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", url], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise RuntimeError(out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{url}: {non2xx.group(1)} non-2xx responses")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install -y wrk)")
    python = str(ROOT / ".venv" / "bin" / "python")
    redis = RedisServer().start()
    tmp = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
    checks = "\n".join(f"      c{i}: {{kind: connectivity}}" for i in range(40))
    config = tmp / "vigil.yaml"
    config.write_text(
        f"""defaults: {{interval: 1s, timeout: 800ms}}
server: {{show_details: always}}
components:
  cache:
    type: redis
    url: {redis.url}
    max_connections: 8
    socket_timeout: 500ms
    connect_timeout: 500ms
    pool_timeout: 200ms
    checks:
{checks}
"""
    )
    vigil_port, empty_port = free_port(), free_port()
    procs = [
        subprocess.Popen(
            [python, "-m", "app.cli", "serve", "--config", str(config), "--host", "127.0.0.1", "--port", str(vigil_port)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [python, "-m", "uvicorn", "bench.empty_asgi:app", "--host", "127.0.0.1", "--port", str(empty_port),
             "--no-access-log", "--log-level", "warning"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ),
    ]
    try:
        wait_http(f"http://127.0.0.1:{vigil_port}/readyz")
        wait_http(f"http://127.0.0.1:{empty_port}/")
        rows = []
        floor = wrk(f"http://127.0.0.1:{empty_port}/", args.duration, args.connections)
        rows.append(("empty ASGI app (floor)", floor))
        for path in ("/readyz", "/livez", "/readyz?verbose", "/health", "/metrics"):
            rows.append((f"vigil {path}", wrk(f"http://127.0.0.1:{vigil_port}{path}", args.duration, args.connections)))
        print(f"wrk -t1 -c{args.connections} -d{args.duration}s, 40 redis checks running every 1 s, {os.cpu_count()} cores\n")
        print("| endpoint | requests/s | vs empty ASGI app |")
        print("|---|---:|---:|")
        for name, rps in rows:
            print(f"| {name} | {rps:,.0f} | {rps / floor:.2f}x |")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        redis.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
