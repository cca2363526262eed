"""A `tcp` check whose name lookup never gets an answer: a fail naming the lookup, within the component's connect
timeout, while a dependency reached by an address in /etc/hosts passes in the same run.

`vigil check` runs in a private mount namespace whose /etc/resolv.conf points at a loopback UDP port that reads
queries and never replies (as in tests/test_resolver.py); `localhost` still resolves from /etc/hosts.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import BLACK_HOLE, tcp_component, within

VIGIL = str(Path(sys.executable).with_name("vigil"))

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare for a private resolv.conf"
)


@pytest.fixture
def listening() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield int(sock.getsockname()[1])
    sock.close()


def test_a_lookup_that_never_answers_is_a_dns_fail(
    silent_resolver: socket.socket, listening: int, tmp_path: Path
) -> None:
    # getaddrinfo waits 3 x 10 s for this resolver: the process must not wait it out before exiting.
    (tmp_path / "resolv.conf").write_text(f"nameserver {BLACK_HOLE}\noptions timeout:10 attempts:3\n")
    config = tmp_path / "vigil.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "defaults": {"interval": "10s", "timeout": "3s"},
                "components": {
                    "db": tcp_component("db.vigil-dns-test.example", 5432, connect_timeout=0.5),
                    "near": tcp_component("localhost", listening, connect_timeout=0.5),
                },
            }
        )
    )
    command = f"mount --bind {tmp_path / 'resolv.conf'} /etc/resolv.conf && exec {VIGIL} check --config {config} --format json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    started = time.monotonic()
    done = subprocess.run(["unshare", "-m", "sh", "-c", command], capture_output=True, text=True, env=env, timeout=90)
    took = time.monotonic() - started
    assert done.returncode == 1, done.stderr
    checks = json.loads(done.stdout)["checks"]
    hung, near = checks["db:connect"][0], checks["near:connect"][0]
    assert (hung["status"], hung["output"]) == (
        "fail",
        "DNS lookup of db.vigil-dns-test.example got no answer within 500 ms",
    )
    assert hung["lastResult"]["duration"] < within(0.5) < 3  # its own bound, not the check's deadline
    assert near["status"] == "pass", near["output"]
    assert near["output"].startswith(f"connected to localhost:{listening} (127.0.0.1) in ")
    # The lookup hangs 3 x 10 s (resolv.conf): half of that is far more than start-up and the 3 s check.
    assert took < 3 * 10 / 2, f"vigil check took {took:.1f}s to exit: it waited for the hung lookup"
