"""Memory over a long run: does RSS keep growing with the number of check runs once Vigil has warmed up?

`vigil serve` runs 1,000 Redis connectivity checks at a 5 s interval (200 runs/s) against a private redis-server,
scraped every 15 s like Prometheus and asked for /health with details every 15 s like a dashboard. RSS is sampled
every 10 s. The first `--warmup` minutes fill every per-check buffer (60 recent durations per check take 5 min at
5 s), so growth is fitted (least squares, bytes per run) over the rest only and extrapolated to what the issue asks
about: 1,000 checks at the default 15 s interval for 24 h (5.76 M runs). RSS moves by a megabyte or two as large
transient buffers (a 2.4 MB scrape, a 0.6 MB /health) come and go, so the process also reports Python's own count
of allocated memory blocks (`sys.getallocatedblocks()`, no fragmentation in it): objects that pile up show there.
Usage: .venv/bin/python bench/memory.py [--minutes 12] [--warmup 6]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from bench.probes import wait_http  # noqa: E402
from bench.scale import rss_kib, total_runs, write_config  # noqa: E402
from devenv.counting import read_counts, serve_command  # noqa: E402
from devenv.servers import RedisServer, free_port  # noqa: E402

RUNS_PER_DAY = 1000 * 86400 / 15  # 1,000 checks at 15 s for 24 h


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    num = sum((x - mean_x) * (y - mean_y) for x, y in points)
    den = sum((x - mean_x) ** 2 for x, _ in points)
    return num / den if den else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=12.0)
    parser.add_argument("--warmup", type=float, default=6.0, help="minutes left out of the fit")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="vigil-memory-"))
    redis = RedisServer().start()
    path = write_config(tmp, redis.url, 1000)
    port = free_port()
    blocks_file = tmp / "blocks"
    proc = subprocess.Popen(
        serve_command(blocks_file, "--config", str(path), "--host", "127.0.0.1", "--port", str(port)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parent.parent,
    )
    samples: list[tuple[float, float, float, float]] = []  # (minutes, runs, RSS bytes, allocated blocks)
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz", timeout=60)
        began = time.monotonic()
        next_read = began
        while (elapsed := time.monotonic() - began) < args.minutes * 60:
            if time.monotonic() >= next_read:  # a scrape and a dashboard read every 15 s
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=30) as response:
                    response.read()
                runs = total_runs(port)
                blocks = read_counts(blocks_file)[-1][1]
                samples.append((elapsed / 60, runs, rss_kib(proc.pid) * 1024.0, float(blocks)))
                next_read += 15
            time.sleep(max(0.0, min(1.0, next_read - time.monotonic())))
    finally:
        proc.terminate()
        proc.wait(10)
        redis.cleanup()
    kept = [(runs, rss) for minutes, runs, rss, _ in samples if minutes >= args.warmup]
    per_run = slope(kept)
    blocks = [(runs, count) for minutes, runs, _, count in samples if minutes >= args.warmup]
    blocks_per_run = slope(blocks)
    start_rss, end_rss = samples[0][2], samples[-1][2]
    runs_measured = kept[-1][0] - kept[0][0]
    print(f"## memory: 1,000 checks at 5 s (200 runs/s), {args.minutes:g} min, fit after {args.warmup:g} min\n")
    print("| measure | value |\n|---|---:|")
    print(f"| RSS after start / at the end | {start_rss / 1048576:.0f} / {end_rss / 1048576:.0f} MiB |")
    print(f"| RSS at the end of warm-up | {kept[0][1] / 1048576:.1f} MiB |")
    print(f"| runs in the fit | {int(runs_measured):,} |")
    print(f"| RSS growth per run after warm-up (least squares) | {per_run:.2f} B |")
    print(f"| allocated blocks at the end of warm-up / at the end | {int(blocks[0][1]):,} / {int(blocks[-1][1]):,} |")
    print(f"| allocated blocks per run after warm-up (least squares) | {blocks_per_run:.4f} |")
    projected = end_rss + max(0.0, per_run) * RUNS_PER_DAY
    print(f"| projected: 1,000 checks at 15 s for 24 h | {projected / 1048576:.0f} MiB (target < 150 MB) |")
    print("\nRSS MiB by minute: " + ", ".join(f"{m:.0f}:{rss / 1048576:.1f}" for m, _, rss, _ in samples[::4]))
    print("allocated blocks by minute: " + ", ".join(f"{m:.0f}:{int(b):,}" for m, _, _, b in samples[::4]))


if __name__ == "__main__":
    main()
