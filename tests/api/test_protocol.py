"""Request heads are bounded, through a real `vigil serve`: oversized or over-numerous header fields get 431
(or the connection closed) before they are buffered, while probes keep being answered and memory stays flat."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from devenv.servers import free_port
from tests.conftest import AUTH, http, make_token, reach

VIGIL = str(Path(sys.executable).with_name("vigil"))
PROBE_TIMEOUT = 1.0  # the kubelet's default probe timeout: what "still answered" means


@contextlib.contextmanager
def vigil_serve(tmp_path: Path, config: dict[str, Any]) -> Iterator[tuple[int, int]]:
    """(port, pid) of a `vigil serve` whose checks have all run."""
    path = tmp_path / "vigil.yaml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    args = [VIGIL, "serve", "--config", str(path), "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 20
        while get(port, "/startupz")[0] != 200:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "vigil serve never started"
            time.sleep(0.05)
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.communicate(timeout=15)


def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def raw(port: int, head: bytes, *, total: int = 0, chunk: bytes = b"") -> tuple[bytes, int]:
    """Send `head`, then `chunk` until `total` bytes or the server stops reading; (what came back, bytes sent)."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(head)
            sent = len(head)
            while sent < total:
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:  # reset by the server: it refused and closed
            pass
        reply = b""
        with contextlib.suppress(OSError):
            while part := sock.recv(65536):
                reply += part
    return reply, sent


def config(http_target: Any, **server: Any) -> dict[str, Any]:
    return {
        "defaults": {"interval": "1s", "timeout": "500ms", "jitter": 0},
        "server": {"show_details": "when_authorized", **server},
        "auth": AUTH,
        "components": {"api": http(http_target.url, ok=reach("/ok"))},
    }


def assert_refused(reply: bytes) -> None:
    """431 with its reason, or (when the refusal raced the client's writes) a connection closed with nothing."""
    if reply:
        head, _, body = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), reply[:200]
        assert b"connection: close" in head
        assert body.startswith(b"request header fields too large: at most ")


def test_a_64_mib_header_is_refused_early_while_probes_answer(tmp_path: Path, http_target: Any) -> None:
    with vigil_serve(tmp_path, config(http_target)) as (port, pid):
        before = rss_kib(pid)
        answers: list[tuple[int, str]] = []
        latencies: list[float] = []
        attacking = threading.Event()
        attacking.set()

        def probe() -> None:
            while attacking.is_set():
                started = time.monotonic()
                answers.append(get(port, "/readyz"))
                latencies.append(time.monotonic() - started)

        prober = threading.Thread(target=probe)
        prober.start()
        try:
            results = [
                raw(port, b"GET /nowhere HTTP/1.1\r\nHost: x\r\nX-Big: ", total=64 << 20, chunk=b"a" * 65536)
                for _ in range(3)
            ]
        finally:
            attacking.clear()
            prober.join()
        for reply, sent in results:
            assert_refused(reply)
            assert sent < 16 << 20, sent  # refused long before the 64 MiB were sent (kernel buffers hold a few MB)
        assert answers and set(answers) == {(200, "ok\n")}, set(answers)
        assert max(latencies) < PROBE_TIMEOUT, max(latencies)
        assert rss_kib(pid) - before < 32 * 1024  # the header was never held whole (it took +130 MB each)
        assert get(port, "/readyz") == (200, "ok\n")


def test_ten_thousand_headers_and_too_many_small_fields_are_refused(tmp_path: Path, http_target: Any) -> None:
    with vigil_serve(tmp_path, config(http_target)) as (port, _):
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(10_000))
        reply, _ = raw(port, b"GET /readyz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
        assert_refused(reply)
        # Within the byte limit but over the count (100 fields): refused all the same, with the 431 itself.
        fields = b"".join(b"X-%d: v\r\n" % i for i in range(150))
        reply, _ = raw(port, b"GET /readyz HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
        assert reply.startswith(b"HTTP/1.1 431 ")
        # 99 fields and the Host are fine.
        fields = b"".join(b"X-%d: v\r\n" % i for i in range(99))
        reply, _ = raw(
            port, b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + fields[: -len(b"X-98: v\r\n")] + b"\r\n"
        )
        assert reply.startswith(b"HTTP/1.1 200 OK\r\n") and reply.endswith(b"\r\n\r\nok\n")


def test_the_limit_is_a_server_setting_and_counts_line_and_fields(tmp_path: Path, http_target: Any) -> None:
    with vigil_serve(tmp_path, config(http_target, max_header_bytes=4096)) as (port, _):
        # One write, so the whole head arrives at once: refused all the same.
        reply, _ = raw(port, b"GET /readyz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 4100 + b"\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 431 ")
        assert b"at most 4096 bytes, 100 fields" in reply
        reply, _ = raw(port, b"GET /readyz?" + b"a" * 4100 + b" HTTP/1.1\r\nHost: x\r\n\r\n")  # the URL counts too
        assert reply.startswith(b"HTTP/1.1 431 ")
        reply, _ = raw(
            port, b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: " + b"a" * 3000 + b"\r\n\r\n"
        )
        assert reply.startswith(b"HTTP/1.1 200 OK\r\n")


def test_an_8_kib_bearer_token_still_works(tmp_path: Path, http_target: Any) -> None:
    with vigil_serve(tmp_path, config(http_target)) as (port, _):
        token = make_token(padding="p" * 5950)
        assert 8000 <= len(token) <= 8192
        status, body = get(port, "/health", {"Authorization": f"Bearer {token}"})
        assert status == 200
        assert '"api:ok"' in body  # details shown: the token was read whole and verified
        status, body = get(port, "/health")
        assert '"api:ok"' not in body
