"""Vigil's own load never fails a check: 1,000 Redis connectivity checks (10 components x 100, 8 connections each,
5 s interval, 2 s timeout) against a healthy loopback Redis, from startup (the first runs included), quiet and
with both cores loaded by `stress-ng --cpu N`. Every failed run here is a false failure, since Redis is healthy;
runs Vigil was too late to judge (its own loop stalled for a fifth of the timeout) are counted apart, in
vigil_check_runs_unjudged_total, and never reach the availability SLI. With `--explain`, Vigil logs at debug level
and every failed run that was counted is printed with its output and how long Vigil's loop stalled during it.
Usage: .venv/bin/python bench/own_load.py [--checks 1000] [--duration 60] [--stress 2] [--explain] [--quiet-only]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from bench.probes import wait_http  # noqa: E402
from bench.scale import ENGINES, write_config  # noqa: E402
from devenv.servers import RedisServer, free_port  # noqa: E402


@contextlib.contextmanager
def stressed(workers: int) -> Iterator[None]:
    """`workers` CPU hogs for the duration (none with 0)."""
    if workers <= 0:
        yield
        return
    if shutil.which("stress-ng") is None:
        raise SystemExit("stress-ng is not installed: apt-get install -y stress-ng")
    hog = subprocess.Popen(
        ["stress-ng", "--cpu", str(workers), "--timeout", "3600s", "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        hog.terminate()
        hog.wait(10)


def counts(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        body = response.read().decode()
    totals = {"runs": 0.0, "failed": 0.0, "unjudged": 0.0}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == "vigil_check_runs_total":
                totals["runs"] += sample.value
                if sample.labels.get("status") == "fail":
                    totals["failed"] += sample.value
            elif sample.name == "vigil_check_runs_unjudged_total":
                totals["unjudged"] += sample.value
    return totals


def one(checks: int, duration: int, workers: int, explain: bool = False) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="vigil-own-load-"))
    log = tmp / "vigil.log"
    redis = RedisServer().start()
    port = free_port()
    try:
        with stressed(workers):
            proc = subprocess.Popen(
                [
                    *ENGINES["uvloop + httptools"],
                    "serve",
                    "--config",
                    str(write_config(tmp, redis.url, checks)),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                stdout=subprocess.DEVNULL,
                stderr=log.open("wb") if explain else subprocess.DEVNULL,
                cwd=Path(__file__).resolve().parent.parent,
                env={**os.environ, "VIGIL_LOG_LEVEL": "debug"} if explain else None,
            )
            try:
                wait_http(f"http://127.0.0.1:{port}/livez", timeout=60)
                time.sleep(duration)
                return counts(port)
            finally:
                proc.terminate()
                proc.wait(10)
                if explain:
                    failed = [line for line in log.read_text().splitlines() if " failed after " in line]
                    print(f"\n{len(failed)} failed runs counted:", *failed, sep="\n", flush=True)
    finally:
        redis.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--duration", type=int, default=60, help="seconds from startup, first runs included")
    parser.add_argument("--stress", type=int, default=2, help="stress-ng CPU workers for the loaded run")
    parser.add_argument("--explain", action="store_true", help="print each counted failure and the stall in it")
    parser.add_argument("--quiet-only", action="store_true", help="only the run without stress-ng")
    args = parser.parse_args()
    print(f"## {args.checks} checks at 5 s against a healthy Redis, {args.duration} s from startup\n")
    print("| machine | runs | failed (false) | not judged |\n|---|---:|---:|---:|")
    machines = [("quiet", 0)] if args.quiet_only else [("quiet", 0), (f"stress-ng --cpu {args.stress}", args.stress)]
    for label, workers in machines:
        r = one(args.checks, args.duration, workers, args.explain)
        print(f"| {label} | {int(r['runs']):,} | {int(r['failed'])} | {int(r['unjudged'])} |", flush=True)


if __name__ == "__main__":
    main()
