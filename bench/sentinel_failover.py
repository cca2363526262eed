"""How long a `redis` component behind Sentinel fails after its primary dies, and how long finding the primary takes.

Starts a primary, a replica and three Sentinels (down-after 1000 ms, failover-timeout 3000 ms) on loopback, then
for each round kills the primary and runs `connectivity` every 100 ms through the real scheduler path until it
passes against the new primary; the killed node comes back as a replica before the next round. Prints the figures.

    .venv/bin/python bench/sentinel_failover.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.model import CheckId, Status
from devenv.sentinel import MASTER, SentinelTopology
from tests.conftest import check_runner, make_settings


async def main(rounds: int) -> None:
    topology = SentinelTopology().start()
    try:
        component = {
            "type": "redis",
            "sentinel": {"master": MASTER, "addresses": topology.addresses},
            "checks": {"connectivity": {"timeout": "1s"}},
        }
        settings = make_settings(components={"sessions": component})
        outages, discoveries = [], []
        async with check_runner(settings) as scheduler:
            runner = scheduler.runners[CheckId("sessions", "connectivity")]
            for _ in range(rounds):
                old = topology.primary_port()
                await runner.run(scheduled=False)
                topology.node(old).kill()
                killed = time.monotonic()
                while True:
                    result = await runner.run(scheduled=False)
                    if result.status is Status.PASS and not result.output.endswith(f":{old})"):
                        break
                    await asyncio.sleep(0.1)
                outages.append(time.monotonic() - killed)
                await scheduler.clients["sessions"].pool.disconnect()  # the next run connects, asking the Sentinels
                started = time.perf_counter()
                await runner.run(scheduled=False)
                discoveries.append(time.perf_counter() - started)
                await asyncio.to_thread(topology.node(old).start)  # back, as a replica of the new primary
                await asyncio.to_thread(topology.wait_settled, 30)
        print(f"kill -> connectivity passes on the new primary: {', '.join(f'{s:.2f} s' for s in outages)}")
        print(f"  median {statistics.median(outages):.2f} s over {rounds} rounds")
        print(
            f"a run that opens its connection (Sentinels asked): median {statistics.median(discoveries) * 1000:.1f} ms"
        )
    finally:
        topology.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args().rounds))
