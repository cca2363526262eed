"""What a reload costs at N checks: reading and validating the file (off the loop), and applying the plan on the
loop (the store adopting the checks, the scheduler retiring and starting runners), with the longest stall of the
event loop a 1 ms ticker sees meanwhile: what a probe arriving during a reload would wait.

Three reloads of a config of N tcp checks (10 per component; none is run: the scheduler is not started): the same
file, 10% of the components changed, and 10% of the checks removed plus as many added.
Usage: .venv/bin/python bench/reload.py [--checks 1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml  # noqa: E402

from app.cli import freeze_long_lived  # noqa: E402
from app.config.settings import load_settings  # noqa: E402
from app.engine.reload import Reloader  # noqa: E402
from app.main import build_engine  # noqa: E402

PER_COMPONENT = 10


def config(checks: int, *, changed: int = 0, shifted: int = 0) -> dict[str, Any]:
    """`checks` tcp checks; the first `changed` components with another connect timeout; the first `shifted`
    checks renamed (a removal and an addition each)."""
    components: dict[str, Any] = {}
    for c in range(checks // PER_COMPONENT):
        names = [f"c{c * PER_COMPONENT + i}" for i in range(PER_COMPONENT)]
        names = [f"n{name[1:]}" if int(name[1:]) < shifted else name for name in names]
        components[f"db{c}"] = {
            "type": "tcp",
            "host": "127.0.0.1",
            "port": 9,
            "connect_timeout": 0.4 if c < changed else 0.5,
            "checks": {name: {"kind": "connect"} for name in names},
        }
    return {"defaults": {"interval": "15s", "timeout": "2s"}, "components": components}


async def reload_watched(reloader: Reloader) -> tuple[tuple[float, float], Any]:
    """One reload: (its duration, the longest stall of a 1 ms ticker on the loop meanwhile), and its report."""
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    worst = 0.0

    async def tick() -> None:
        nonlocal worst
        while not done.is_set():
            before = loop.time()
            await asyncio.sleep(0.001)
            worst = max(worst, loop.time() - before - 0.001)

    ticker = asyncio.ensure_future(tick())
    started = time.perf_counter()
    report = await reloader.reload("bench")
    elapsed = time.perf_counter() - started
    done.set()
    await ticker
    return (elapsed, worst), report


async def measure(path: Path, variants: dict[str, dict[str, Any]], rounds: int) -> None:
    base = variants["same file"]
    path.write_text(yaml.safe_dump(base))
    settings = load_settings(path)
    store, scheduler = build_engine(settings)
    scheduler.build()
    reloader = Reloader(settings, lambda: load_settings(path), store, scheduler)
    freeze_long_lived()  # as `vigil serve` does once every check has run
    for name, data in variants.items():
        totals, stalls = [], []
        for _ in range(rounds):
            for content in (base, data):  # back to the base first, so every round applies the same change
                path.write_text(yaml.safe_dump(content))
                (elapsed, stall), report = await reload_watched(reloader)
                assert report.ok, report.problems
            totals.append(elapsed)  # the second: the change measured
            stalls.append(stall)
        summary = report.plan.summary() if report.plan else {}
        counts = ", ".join(f"{key} {len(v) if isinstance(v, list) else v}" for key, v in summary.items())
        print(
            f"{name:>30}: reload {statistics.median(totals) * 1000:7.1f} ms median, "
            f"longest loop stall {max(stalls) * 1000:6.1f} ms ({counts})"
        )
    reloader.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    n = args.checks
    variants = {
        "same file": config(n),
        "10% of components changed": config(n, changed=n // PER_COMPONENT // 10),
        "10% of checks removed + added": config(n, shifted=n // 10),
    }
    print(f"{n} checks, {args.rounds} rounds each")
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(measure(Path(directory) / "vigil.yaml", variants, args.rounds))


if __name__ == "__main__":
    main()
