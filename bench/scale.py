"""1,000 checks in one process: /metrics render (fast writer vs prometheus_client), scheduler lag, probes,
/health and memory, measured side by side in one run.

Phase 1 (in process): a store with 1,000 checks and realistic observations; the text writer and
`generate_latest` render the same snapshot (median of repeated renders); both parse to the same samples.
Phase 2 (live): `vigil serve` with 10 Redis components x 100 connectivity checks at a 5 s interval (200 runs/s)
against one private redis-server, scraped every 2 s like Prometheus; wrk measures /readyz p99 meanwhile; the
scheduler's start lag comes from vigil_scheduler_lag_seconds at each scrape. Run twice: as shipped (uvicorn on
uvloop with httptools) and on the floor those dependencies replace (asyncio's own loop and h11, what uvicorn picks
without them), so the table shows what they buy in the same run. Memory over a long run: bench/memory.py.
Usage: .venv/bin/python bench/scale.py [--checks 1000] [--duration 60]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import subprocess  # noqa: E402

import yaml  # noqa: E402
from prometheus_client import generate_latest  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from app.main import build_engine  # noqa: E402
from app.model import CheckResult, Observation, Status  # noqa: E402
from app.views.metrics import build_exposition, take_snapshot  # noqa: E402
from bench.probes import p99_ms, wait_http, wrk_output  # noqa: E402
from devenv.servers import RedisServer, free_port  # noqa: E402
from tests.conftest import make_settings  # noqa: E402


def samples(text: str) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
    return {
        (s.name, tuple(sorted(s.labels.items())), s.value)
        for family in text_string_to_metric_families(text)
        if family.name.startswith("vigil_")
        for s in family.samples
    }


def render_phase(checks: int, repeat: int = 15) -> dict[str, float]:
    per = 100
    components = {
        f"cache{c}": {
            "type": "redis",
            "url": "redis://127.0.0.1:1/0",
            "checks": {f"k{i}": {"kind": "connectivity"} for i in range(per)},
        }
        for c in range(checks // per)
    }
    store, _ = build_engine(make_settings(components=components))
    now = time.time()
    for n, state in enumerate(store.states.values()):
        observed = (
            Observation("latency", 0.0004 + n * 1e-7, "s"),
            Observation("server_version", "7.0.15"),
            Observation("uptime", 1000 + n, "s"),
        )
        for run in range(3):
            status = Status.FAIL if (n + run) % 17 == 0 else Status.PASS
            store.record(CheckResult(state.component, state.check, "redis", status, "PONG", observed, now, 0.0006), 1.0)
    exposition = build_exposition(store)
    assert exposition.collector is not None
    snapshot = take_snapshot(store)

    def fast() -> bytes:
        return exposition.writer.render(snapshot).encode() + generate_latest(exposition.others)

    def generic() -> bytes:
        with exposition.collector.pinned(snapshot):  # type: ignore[union-attr]
            return generate_latest(exposition.registry)

    timings = {}
    for name, fn in (("writer", fast), ("generate_latest", generic)):
        runs = []
        for _ in range(repeat):
            started = time.perf_counter()
            body = fn()
            runs.append(time.perf_counter() - started)
        timings[name] = statistics.median(runs) * 1000
        timings[f"{name}_bytes"] = len(body)
    snap_runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        take_snapshot(store)
        snap_runs.append(time.perf_counter() - started)
    timings["snapshot"] = statistics.median(snap_runs) * 1000
    timings["equivalent"] = float(samples(fast().decode()) == samples(generic().decode()))
    timings["series"] = float(len(samples(fast().decode())))
    return timings


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def scrape(port: int) -> tuple[float, dict[str, object]]:
    started = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        body = response.read().decode()
    took = time.perf_counter() - started
    return took, {f.name: f for f in text_string_to_metric_families(body)}


# `vigil serve` as shipped, or the same command with uvicorn told to use asyncio's loop and h11.
ENGINES = {
    "uvloop + httptools": [sys.executable, "-m", "app.cli"],
    "asyncio + h11": [
        sys.executable,
        "-c",
        "import sys, uvicorn\n"
        "init = uvicorn.Config.__init__\n"
        "def floor(self, *a, **k):\n"
        "    init(self, *a, **{**k, 'loop': 'asyncio', 'http': 'h11'})\n"
        "uvicorn.Config.__init__ = floor\n"
        "from app.cli import run\n"
        "sys.argv[0] = 'vigil'\n"
        "run()\n",
    ],
}


def write_config(directory: Path, redis_url: str, checks: int) -> Path:
    """The live config: 10 Redis components sharing `checks` connectivity checks at 5 s, details shown."""
    config = {
        "defaults": {"interval": "5s", "timeout": "2s"},
        "server": {"show_details": "always"},
        "components": {
            f"cache{c}": {
                "type": "redis",
                "url": redis_url,
                "max_connections": 8,
                "checks": {f"k{i}": {"kind": "connectivity"} for i in range(checks // 10)},
            }
            for c in range(10)
        },
    }
    path = directory / "vigil.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def live_phase(checks: int, duration: int, warmup: int, engine: str = "uvloop + httptools") -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="vigil-scale-"))
    redis = RedisServer().start()
    path = write_config(tmp, redis.url, checks)
    port = free_port()
    proc = subprocess.Popen(
        [*ENGINES[engine], "serve", "--config", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parent.parent,
    )
    results: dict[str, float] = {}
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz", timeout=60)
        bodies: list[bytes] = []
        scrape_times: list[float] = []
        stop = threading.Event()

        def scraper() -> None:  # every 2 s, as a Prometheus with scrape_interval: 2s
            # Only fetched here (I/O, the GIL released): parsing 2.4 MB in this thread would hold the GIL of the
            # thread timing /health and inflate its figures. Parsed once the measuring is over.
            while not stop.is_set():
                started = time.perf_counter()
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
                    bodies.append(response.read())
                took = time.perf_counter() - started
                scrape_times.append(took)
                stop.wait(max(0.0, 2.0 - took))

        time.sleep(warmup)  # past startup: every check settled on its phase, per-check buffers filling
        rss_start = rss_kib(proc.pid)
        runs_start = total_runs(port)
        thread = threading.Thread(target=scraper, daemon=True)
        thread.start()
        readyz = wrk_output(f"http://127.0.0.1:{port}/readyz", duration, 10)
        health = []  # a dashboard asking for the details 4 times a second, scrapes still running
        for _ in range(40):
            started = time.perf_counter()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=30) as response:
                body = response.read()
            health.append(time.perf_counter() - started)  # the answer, not this client's parsing of it
            assert len(json.loads(body)["checks"]) == checks
            time.sleep(0.25)
        stop.set()
        thread.join(10)
        rss_end = rss_kib(proc.pid)
        runs_end = total_runs(port)
        lags = sorted(
            sample.value
            for body in bodies
            for family in text_string_to_metric_families(body.decode())
            if family.name == "vigil_scheduler_lag_seconds"
            for sample in family.samples
        )
        results["lag_p99_ms"] = lags[int(len(lags) * 0.99) - 1] * 1000 if lags else float("nan")
        results["readyz_p99_ms"] = p99_ms(readyz)
        results["scrape_median_ms"] = statistics.median(scrape_times) * 1000
        results["health_median_ms"] = statistics.median(health) * 1000
        results["health_p90_ms"] = sorted(health)[int(len(health) * 0.9)] * 1000
        results["rss_mib"] = rss_end / 1024
        results["runs"] = runs_end - runs_start
        results["rss_growth_bytes_per_run"] = max(0, rss_end - rss_start) * 1024 / max(1, runs_end - runs_start)
        results["failed"] = failed_runs(port)
    finally:
        proc.terminate()
        proc.wait(10)
        redis.cleanup()
    return results


def total_runs(port: int) -> float:
    _, families = scrape(port)
    return sum(s.value for s in families["vigil_check_runs"].samples)  # type: ignore[attr-defined]


def failed_runs(port: int) -> float:
    _, families = scrape(port)
    runs = families["vigil_check_runs"].samples  # type: ignore[attr-defined]
    return sum(s.value for s in runs if s.labels.get("status") == "fail")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=30, help="seconds before RSS and lag are measured")
    args = parser.parse_args()
    r = render_phase(args.checks)
    print(f"## /metrics render, {args.checks} checks, {int(r['series'])} Vigil series (median)\n")
    print("| renderer | time | bytes | vs writer |\n|---|---:|---:|---:|")
    print(f"| Vigil text writer | {r['writer']:.1f} ms | {int(r['writer_bytes']):,} | 1.00x |")
    print(
        f"| prometheus_client generate_latest | {r['generate_latest']:.1f} ms | {int(r['generate_latest_bytes']):,} "
        f"| {r['generate_latest'] / r['writer']:.1f}x slower |"
    )
    print(f"\nsnapshot on the loop: {r['snapshot']:.1f} ms; same samples: {'yes' if r['equivalent'] else 'NO'}\n")
    live = {engine: live_phase(args.checks, args.duration, args.warmup, engine) for engine in ENGINES}
    shipped, floor = live["uvloop + httptools"], live["asyncio + h11"]
    print(f"## live: {args.checks} checks at 5 s (200 runs/s), scraped every 2 s, {args.duration} s each\n")
    print("| measure | uvloop + httptools (shipped) | asyncio + h11 (floor) | target |\n|---|---:|---:|---:|")
    rows = (
        ("scheduler start lag p99", "lag_p99_ms", "{:.1f} ms", "< 20 ms"),
        ("/readyz p99 (wrk -t1 -c10)", "readyz_p99_ms", "{:.2f} ms", "< 5 ms"),
        ("/metrics scrape median", "scrape_median_ms", "{:.1f} ms", "< 40 ms render"),
        ("/health with details median", "health_median_ms", "{:.1f} ms", "< 30 ms"),
        ("/health with details p90", "health_p90_ms", "{:.1f} ms", ""),
        ("RSS", "rss_mib", "{:.0f} MiB", "< 150 MB"),
        ("check runs measured / failed", None, None, "0 failed"),
    )
    for label, key, fmt, target in rows:
        if key is None:
            cells = [f"{int(r['runs']):,} / {int(r['failed'])}" for r in (shipped, floor)]
        else:
            assert fmt is not None
            cells = [fmt.format(r[key]) for r in (shipped, floor)]
        print(f"| {label} | {cells[0]} | {cells[1]} | {target} |")


if __name__ == "__main__":
    main()
