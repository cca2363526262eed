"""`vigil serve` as shipped, plus a thread that appends Python's count of allocated memory blocks to a file.

For memory tests and benchmarks: `sys.getallocatedblocks()` has none of RSS's allocator noise (a 2.4 MB scrape
body coming and going moves RSS by megabytes), so objects that pile up with runs show in it directly. Each line
is "<monotonic seconds> <blocks>", written every `period` seconds after a collection.
"""

from __future__ import annotations

import sys
from pathlib import Path

_COUNTER = """
import gc, sys, threading, time
def count(path, period):
    with open(path, "a", buffering=1) as out:
        while True:
            gc.collect()
            out.write(f"{time.monotonic()} {sys.getallocatedblocks()}\\n")
            time.sleep(period)
threading.Thread(target=count, args=(sys.argv.pop(1), float(sys.argv.pop(1))), daemon=True).start()
from app.cli import run
sys.argv[0] = "vigil"
run()
"""


def serve_command(blocks: Path, *args: str, period: float = 5.0) -> list[str]:
    """The command line: `vigil serve ARGS...` writing its block counts to `blocks`."""
    return [sys.executable, "-c", _COUNTER, str(blocks), str(period), "serve", *args]


def read_counts(blocks: Path) -> list[tuple[float, int]]:
    """Every (monotonic time, allocated blocks) line written so far."""
    counts = []
    for line in blocks.read_text().splitlines():
        at, count = line.split()
        counts.append((float(at), int(count)))
    return counts
