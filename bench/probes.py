"""Probe throughput: /readyz (and friends) on a running Vigil, next to an empty ASGI app, same uvicorn, same run.

Vigil runs 40 checks every second against a private redis-server while wrk hammers it, so the figure is
"probes while checks run". Prints a markdown table; ratios are the comparable numbers between machines.
Usage: .venv/bin/python bench/probes.py [--duration 10] [--connections 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from devenv.servers import RedisServer, free_port  # noqa: E402

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


def wrk_output(url: str, duration: int, connections: int) -> str:
    return subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def p99_ms(out: str) -> float:
    match = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    if not match:
        raise RuntimeError(out)
    return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]


def wrk(url: str, duration: int, connections: int) -> float:
    return wrk_run(url, duration, connections)[0]


def wrk_run(url: str, duration: int, connections: int) -> tuple[float, int]:
    """(requests/s, requests) of one wrk run."""
    out = wrk_output(url, duration, connections)
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if not match or not total:
        raise RuntimeError(out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        print(f"note: {url}: {non2xx.group(1)} non-2xx responses (a check failed under this load)", file=sys.stderr)
    return float(match.group(1)), int(total.group(1))


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_request(pid: int, url: str, duration: int, connections: int, background: float) -> tuple[float, float]:
    """(requests/s, server CPU microseconds per request) of one wrk run; `background` CPU s/s is taken off."""
    before, started = cpu_seconds(pid), time.monotonic()
    rps, total = wrk_run(url, duration, connections)
    spent = cpu_seconds(pid) - before - background * (time.monotonic() - started)
    return rps, spent / total * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3, help="probe/floor pairs; the ratio is their median")
    parser.add_argument("--checks", type=int, default=40, help="redis checks Vigil runs (about 40 runs a second)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install -y wrk)")
    python = str(ROOT / ".venv" / "bin" / "python")
    redis = RedisServer().start()
    tmp = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
    checks = "\n".join(f"      c{i}: {{kind: connectivity}}" for i in range(args.checks))
    interval = max(1.0, args.checks / 40)  # about 40 runs a second, whatever the number of checks
    config = tmp / "vigil.yaml"
    config.write_text(
        f"""defaults: {{interval: {interval:g}s, timeout: 800ms}}
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
            [
                python,
                "-m",
                "app.cli",
                "serve",
                "--config",
                str(config),
                "--host",
                "127.0.0.1",
                "--port",
                str(vigil_port),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [
                python,
                "-m",
                "uvicorn",
                "bench.empty_asgi:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(empty_port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    try:
        wait_http(f"http://127.0.0.1:{vigil_port}/readyz")
        wait_http(f"http://127.0.0.1:{empty_port}/")
        scrape_times = []
        for _ in range(5):  # one scrape at a time: the full render each time
            started = time.perf_counter()
            with urllib.request.urlopen(f"http://127.0.0.1:{vigil_port}/metrics", timeout=30) as response:
                size = len(response.read())
            scrape_times.append(time.perf_counter() - started)
        scrape_ms = sorted(scrape_times)[2] * 1000
        # Two figures per probe, each against the floor measured just before it (on a shared machine the load
        # moves between runs, less between neighbours): throughput, and the server's CPU per request, which
        # depends far less on what else runs. Vigil's own background (its checks) is measured idle and taken off.
        idle_before, idle_started = cpu_seconds(procs[0].pid), time.monotonic()
        time.sleep(3)
        background = (cpu_seconds(procs[0].pid) - idle_before) / (time.monotonic() - idle_started)
        rounds: dict[str, list[tuple[float, float, float, float]]] = {path: [] for path in ("/readyz", "/livez")}
        for _ in range(args.rounds):
            for path, results in rounds.items():
                floor, floor_us = cpu_per_request(
                    procs[1].pid, f"http://127.0.0.1:{empty_port}/", args.duration, args.connections, 0.0
                )
                rps, us = cpu_per_request(
                    procs[0].pid, f"http://127.0.0.1:{vigil_port}{path}", args.duration, args.connections, background
                )
                results.append((rps, floor, us, floor_us))
        floors = [r[1] for results in rounds.values() for r in results]
        floor_us = statistics.median(r[3] for results in rounds.values() for r in results)
        rows = [("empty ASGI app (floor)", statistics.median(floors), 1.0, f"{floor_us:.0f} µs", "1.00x")]
        for path, results in rounds.items():
            ratio = statistics.median(rps / floor for rps, floor, _, _ in results)
            us = statistics.median(r[2] for r in results)
            cpu_ratio = statistics.median(fus / us for _, _, us, fus in results)  # >1: cheaper than the floor
            rows.append(
                (f"vigil {path}", statistics.median(r[0] for r in results), ratio, f"{us:.0f} µs", f"{cpu_ratio:.2f}x")
            )
        floor = statistics.median(floors)
        for path in ("/readyz?verbose", "/health"):
            rps, us = cpu_per_request(
                procs[0].pid, f"http://127.0.0.1:{vigil_port}{path}", args.duration, args.connections, background
            )
            rows.append((f"vigil {path}", rps, rps / floor, f"{us:.0f} µs", f"{floor_us / us:.2f}x"))
        print(
            f"wrk -t1 -c{args.connections} -d{args.duration}s, {args.checks} redis checks every {interval:g} s, "
            f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; probes: median of {args.rounds} rounds, "
            f"each against the floor measured just before; Vigil's background {background * 1000:.0f} ms CPU/s "
            "taken off\n"
        )
        print("| endpoint | requests/s | vs empty ASGI app | server CPU per request | floor's CPU / this CPU |")
        print("|---|---:|---:|---:|---:|")
        for name, rps, ratio, cpu, cpu_ratio in rows:
            print(f"| {name} | {rps:,.0f} | {ratio:.2f}x | {cpu} | {cpu_ratio} |")
        # /readyz latency while Prometheus-like scrapers hit /metrics back to back: scrapes must not stall probes.
        quiet = p99_ms(wrk_output(f"http://127.0.0.1:{vigil_port}/readyz", args.duration, 10))
        scraper = subprocess.Popen(
            ["wrk", "-t1", "-c2", f"-d{args.duration + 2}s", f"http://127.0.0.1:{vigil_port}/metrics"],
            stdout=subprocess.DEVNULL,
        )
        time.sleep(1)
        busy = p99_ms(wrk_output(f"http://127.0.0.1:{vigil_port}/readyz", args.duration, 10))
        scraper.wait()
        # Checks share the event loop with HTTP: under saturating load a run can miss its socket timeout.
        with urllib.request.urlopen(f"http://127.0.0.1:{vigil_port}/metrics", timeout=30) as response:
            families = {f.name: f for f in text_string_to_metric_families(response.read().decode())}
        runs = {"pass": 0.0, "warn": 0.0, "fail": 0.0}
        for sample in families["vigil_check_runs"].samples:
            if sample.name.endswith("_total"):
                runs[sample.labels["status"]] += sample.value
        print(f"\ncheck runs during the benchmark: {sum(runs.values()):.0f}, failed: {runs['fail']:.0f}")
        print(f"/metrics: {scrape_ms:.0f} ms per scrape (median of 5), {size / 1e6:.2f} MB")
        print(
            f"/readyz p99 latency (wrk -c10): {quiet:.2f} ms alone, {busy:.2f} ms while /metrics is scraped back to back"
        )
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        redis.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
