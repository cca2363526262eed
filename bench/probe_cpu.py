"""CPU per HTTP probe: Vigil next to prometheus-blackbox-exporter, same loopback target, same rate, same run.

Vigil runs `--probes` `http` `reachable` checks at a 1 s interval (one component per 50 checks); blackbox_exporter
is driven as Prometheus drives it: a loopback scraper asks `/probe?target=…&module=http_2xx` at the same rate over
one kept-alive connection. The target is an empty ASGI app under uvicorn in a process of its own (its CPU is
nobody's). Rounds alternate (Vigil, then blackbox_exporter) so both see the same machine; each round reads the
prober's user + system CPU from /proc/PID/stat over `--seconds` after a warm-up and divides by the probes it made
(Vigil: its runs counter; blackbox_exporter: the scraper's answers, every one checked for probe_success 1).
`--baseline DIR` adds a third prober in the same rounds: Vigil run from another checkout (e.g. a `git worktree` of
an earlier commit), for a before/after in one run.
Usage: .venv/bin/python bench/probe_cpu.py [--probes 200] [--seconds 10] [--rounds 4] [--baseline DIR]
       (short: --seconds 5 --rounds 2)
"""

from __future__ import annotations

import argparse
import asyncio
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

import aiohttp  # noqa: E402
import yaml  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from bench.probes import cpu_seconds, wait_http  # noqa: E402
from devenv.servers import free_port  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PER_COMPONENT = 50
BLACKBOX = "prometheus-blackbox-exporter"


def vigil_config(directory: Path, target: str, probes: int) -> Path:
    components = {}
    for c in range(max(1, probes // PER_COMPONENT)):
        count = min(PER_COMPONENT, probes - c * PER_COMPONENT)
        components[f"api{c}"] = {
            "type": "http",
            "url": target,
            "checks": {f"p{i}": {"kind": "reachable"} for i in range(count)},
        }
    config = {"defaults": {"interval": "1s", "timeout": "900ms"}, "components": components}
    path = directory / "vigil.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def vigil_runs(port: int) -> tuple[float, float]:
    """(all runs, failed runs) from Vigil's counters."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        body = response.read().decode()
    runs = failed = 0.0
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == "vigil_check_runs_total":
                runs += sample.value
                failed += sample.value if sample.labels.get("status") == "fail" else 0.0
    return runs, failed


def vigil_round(config: Path, seconds: float, warmup: float, root: Path = ROOT) -> tuple[float, float, float]:
    """(CPU seconds, runs, failed runs) of one Vigil (the code in `root`) over `seconds` after `warmup`."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
        cwd=root,  # `python -m` imports `app` from here first
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/livez", timeout=60)
        time.sleep(warmup)  # first runs spread, every check settled on its phase
        runs0, failed0 = vigil_runs(port)
        cpu0 = cpu_seconds(proc.pid)
        time.sleep(seconds)
        cpu1 = cpu_seconds(proc.pid)
        runs1, failed1 = vigil_runs(port)
        return cpu1 - cpu0, runs1 - runs0, failed1 - failed0
    finally:
        proc.terminate()
        proc.wait(10)


async def drive(
    url: str, rate: float, seconds: float, pid: int, warmup: float, gzip: bool = True
) -> tuple[float, float, float]:
    """Ask `url` `rate` times a second (paced, not waiting on answers) for warmup + seconds; (CPU s, probes, failed)
    counted over the last `seconds`. Compressed answers asked for, as Prometheus asks, unless not `gzip`."""
    done = failed = 0
    counting = False

    async def one(session: aiohttp.ClientSession) -> None:
        nonlocal done, failed
        headers = {"Accept-Encoding": "gzip" if gzip else "identity"}
        async with session.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=10)) as response:
            body = await response.text()
        if counting:
            done += 1
            failed += "probe_success 1" not in body
        return None

    connector = aiohttp.TCPConnector(limit=8)
    async with aiohttp.ClientSession(connector=connector) as session:
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[None]] = set()
        start = loop.time()
        total = int(rate * (warmup + seconds))
        cpu0 = 0.0
        for n in range(total):
            await asyncio.sleep(max(0.0, start + n / rate - loop.time()))
            if not counting and n >= rate * warmup:
                counting, cpu0 = True, cpu_seconds(pid)
            task = asyncio.create_task(one(session))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
        cpu1 = cpu_seconds(pid)
    return cpu1 - cpu0, float(done), float(failed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, default=200, help="probes per second, each prober")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--no-gzip", action="store_true", help="the scraper asks blackbox_exporter for plain text")
    parser.add_argument("--baseline", type=Path, help="another checkout of Vigil, measured in the same rounds")
    args = parser.parse_args()
    if shutil.which(BLACKBOX) is None:
        raise SystemExit(f"{BLACKBOX} is not installed: apt-get install -y prometheus-blackbox-exporter")
    tmp = Path(tempfile.mkdtemp(prefix="vigil-probe-cpu-"))
    target_port, blackbox_port = free_port(), free_port()
    target = f"http://127.0.0.1:{target_port}/"
    (tmp / "blackbox.yml").write_text(
        yaml.safe_dump(
            {"modules": {"http_2xx": {"prober": "http", "timeout": "900ms", "http": {"preferred_ip_protocol": "ip4"}}}}
        )
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bench.empty_asgi:app", "--port", str(target_port)]
            + ["--no-access-log", "--log-level", "warning"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [BLACKBOX, f"--config.file={tmp / 'blackbox.yml'}", f"--web.listen-address=127.0.0.1:{blackbox_port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    config = vigil_config(tmp, target, args.probes)
    probe_url = f"http://127.0.0.1:{blackbox_port}/probe?module=http_2xx&target={target}"
    rows: list[tuple[float, float, float, float]] = []  # (vigil ms/probe, blackbox ms/probe, vigil failed, bb failed)
    baseline: list[float] = []  # the baseline checkout's ms/probe per round
    try:
        wait_http(target)
        wait_http(f"http://127.0.0.1:{blackbox_port}/metrics")
        for n in range(args.rounds):
            v_cpu, v_runs, v_failed = vigil_round(config, args.seconds, warmup=4.0)
            b_cpu, b_runs, b_failed = asyncio.run(
                drive(probe_url, args.probes, args.seconds, procs[1].pid, 1.0, not args.no_gzip)
            )
            v_ms, b_ms = v_cpu * 1000 / max(1.0, v_runs), b_cpu * 1000 / max(1.0, b_runs)
            rows.append((v_ms, b_ms, v_failed, b_failed))
            print(
                f"round {n + 1}: vigil {v_ms:.3f} ms x {int(v_runs)} probes ({int(v_failed)} failed), "
                f"blackbox_exporter {b_ms:.3f} ms x {int(b_runs)} probes ({int(b_failed)} failed), "
                f"ratio {v_ms / b_ms:.2f}",
                flush=True,
            )
            if args.baseline is not None:
                o_cpu, o_runs, _ = vigil_round(config, args.seconds, 4.0, args.baseline.resolve())
                baseline.append(o_cpu * 1000 / max(1.0, o_runs))
                print(f"round {n + 1}: baseline {baseline[-1]:.3f} ms, ratio {baseline[-1] / b_ms:.2f}", flush=True)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    vigil = statistics.median(r[0] for r in rows)
    blackbox = statistics.median(r[1] for r in rows)
    ratios = sorted(r[0] / r[1] for r in rows)
    print(
        f"\n## CPU per HTTP probe, {args.probes} probes/s of a loopback target, {args.rounds} alternating rounds of "
        f"{args.seconds:g} s, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}\n"
    )
    print("| prober | CPU per probe (median) | failed probes |\n|---|---:|---:|")
    asked = "plain" if args.no_gzip else "gzip"
    print(f"| blackbox_exporter 0.23 (/probe, scraped, {asked}) | {blackbox:.3f} ms | {int(sum(r[3] for r in rows))} |")
    print(f"| Vigil (`reachable`, 1 s interval) | {vigil:.3f} ms | {int(sum(r[2] for r in rows))} |")
    if baseline:
        before = statistics.median(baseline)
        ratio = statistics.median(o / r[1] for o, r in zip(baseline, rows, strict=True))
        print(f"| Vigil from {args.baseline} (baseline) | {before:.3f} ms ({ratio:.2f}x blackbox_exporter) | |")
    print(
        f"\nVigil / blackbox_exporter: median {statistics.median(ratios):.2f}x "
        f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)}; target <= 0.70x)"
    )


if __name__ == "__main__":
    main()
