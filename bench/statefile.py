"""The state file at 1,000 checks: its size, the copy on the event loop, encode + write (fsync, rename) in the
writer thread, and the read + restore at start.

Two stores, each with a full 24 h history per check: `steady` (a 15 s check: 4 runs a minute, a few failures, short
outputs) and `worst` (every slot with runs of all three kinds in irregular counts, 4,000-character outputs, the
20 transitions kept with long reasons, observations with limits and forecast series).
Usage: .venv/bin/python bench/statefile.py [--checks 1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from array import array
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.config.settings import Settings  # noqa: E402
from app.engine.saved import export  # noqa: E402
from app.engine.statefile import EXPORT_CHUNK, StateFile  # noqa: E402
from app.engine.store import Store  # noqa: E402
from app.main import build_engine  # noqa: E402
from app.model import CheckResult, Limit, Observation, Status  # noqa: E402


def settings(path: Path, checks: int) -> Settings:
    components = {
        f"cache{c}": {
            "type": "redis",
            "url": f"redis://127.0.0.1:1/{c % 16}",
            "checks": {f"check{i}": {"kind": "memory"} for i in range(checks // 10)},
        }
        for c in range(10)
    }
    return Settings(state={"path": str(path), "instance": "bench"}, components=components)  # type: ignore[arg-type]


def fill(store: Store, worst: bool) -> None:
    rng = random.Random(7)
    now = time.time()
    for state in store.states.values():
        size = state.history.size
        if worst:
            counts = [array("H", (rng.randrange(0, 9) for _ in range(size))) for _ in Status]
        else:
            counts = [array("H", [4] * size), array("H", bytes(2 * size)), array("H", bytes(2 * size))]
            for slot in rng.sample(range(size), 3):
                counts[0][slot], counts[2][slot] = 3, 1
        state.history.restore(int(now // 60), tuple(c.tobytes() for c in counts))
        text = "x" * (4000 if worst else 40)
        for run in range(40 if worst else 2):
            status = (Status.PASS, Status.FAIL)[run % 2] if worst else Status.PASS
            used = Observation("used", 0.3 + run / 1000, "ratio", Limit(0.9, "90% of maxmemory"))
            observed = (used, Observation("version", "7.0.15"), Observation("latency", 0.001, "s"))
            result = CheckResult(
                state.component, state.check, "redis", status, text, observed, now - 600 + run * 15, 0.002
            )
            store.record(result, run * 15.0)


async def measure(checks: int, rounds: int, worst: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="vigil-state-") as tmp:
        path = Path(tmp) / "state.json"
        config = settings(path, checks)
        store, scheduler = build_engine(config)
        fill(store, worst)
        statefile = StateFile(config, store, scheduler.specs)
        exports, chunks, writes = [], [], []
        ids = list(store.states)
        for _ in range(rounds):
            records = []
            for start in range(0, len(ids), EXPORT_CHUNK):  # as StateFile.write copies: a chunk per loop turn
                started = time.perf_counter()
                records.extend(export(store, time.time(), 0.0, ids[start : start + EXPORT_CHUNK]))
                chunks.append(time.perf_counter() - started)
            exports.append(sum(chunks[-len(range(0, len(ids), EXPORT_CHUNK)) :]))
            header = {"instance": "bench", "shard": [0, 1], "written_at": time.time()}
            started = time.perf_counter()
            statefile._write(header, [(r, statefile.fingerprints[r.check_id]) for r in records])
            writes.append(time.perf_counter() - started)
        size = path.stat().st_size
        fresh, again = build_engine(config)
        reader = StateFile(config, fresh, again.specs)
        started = time.perf_counter()
        await reader.restore()
        restore = time.perf_counter() - started
        restored = sum(1 for s in fresh.states.values() if s.last is not None)
        name = "worst" if worst else "steady"
        print(
            f"{name:6} {len(store.states)} checks: file {size / 1e6:.2f} MB (limit {statefile.limit / 1e6:.0f} MB); "
            f"copy on the loop {statistics.median(exports) * 1000:.1f} ms in all, {max(chunks) * 1000:.1f} ms at most per "
            f"turn of {EXPORT_CHUNK} checks; encode + write + fsync "
            f"{statistics.median(writes) * 1000:.0f} ms (median of {rounds}); read + restore {restore * 1000:.0f} ms "
            f"({restored} checks with their state)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    for worst in (False, True):
        asyncio.run(measure(args.checks, args.rounds, worst))


if __name__ == "__main__":
    main()
