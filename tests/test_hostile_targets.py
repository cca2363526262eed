"""Targets that send hostile bytes, through a real `vigil serve` and `vigil check`: headers with every control
character and undecodable bytes, a certificate whose CN forges a log line, metrics that read NaN and +Inf.

Every endpoint answers (never 500), every log line is one line of Vigil's own, JUnit stays well-formed, and what
the target said is shown as escapes.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import re
import socket
import ssl
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devenv.servers import free_port
from tests.test_cli import VIGIL, env, fetch

C0 = bytes(b for b in range(1, 0x20) if b not in (0x0A, 0x0D))  # all but NUL, CR, LF (which end HTTP framing)
C1 = "".join(map(chr, range(0x80, 0xA0))).encode()  # as UTF-8: they decode to U+0080..U+009F
HOSTILE_HEADERS = {
    "Server": b"nginx\xe9",  # one Latin-1 byte (obs-text)
    "X-C0": b"c0" + C0 + b"\x7f",
    "X-C1": b"c1" + C1,
    "X-Low-Bytes": bytes(range(0x80, 0xC0)),  # bytes that do not decode as UTF-8
    "X-High-Bytes": bytes(range(0xC0, 0x100)),
    "X-Lines": "a\u2028b\u2029c\u202ed\u2066e".encode(),
}
FORGED = "2026-12-04 16:00:00,000 ERROR vigil.scheduler: forged"
METRICS = {
    "/metrics-nan": b"process_resident_memory_bytes 1e6\nprocess_cpu_seconds_total NaN\n",
    "/metrics-inf": b"process_resident_memory_bytes +Inf\nprocess_cpu_seconds_total 1\n",
}
# What must never reach an output: control characters but newline, lone surrogates, line separators, bidi controls.
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u202a-\u202e\u2066-\u2069]")
TEXT_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) \S+: ")


class LoopbackServer:
    """Accepts connections on a loopback port in its own thread and hands each to `handle`."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(2)
            with contextlib.suppress(OSError, ssl.SSLError, IndexError), conn:
                self.handle(conn)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        self._thread.join(5)
        self.listener.close()


class HostileServer(LoopbackServer):
    """Answers every request with the hostile headers (or a metrics page), byte for byte."""

    def handle(self, conn: socket.socket) -> None:
        path = conn.recv(65536).split(b" ", 2)[1].decode()
        body = METRICS.get(path, b"ok")
        head = b"".join(f"{name}: ".encode() + value + b"\r\n" for name, value in HOSTILE_HEADERS.items())
        length = f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\n" + head + length + body)


def forged_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate whose CN carries a newline, a whole forged log line and terminal escapes."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"evil\n{FORGED}\x1b[2J\x07")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "forged.pem", directory / "forged-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


class TlsServer(LoopbackServer):
    """Completes TLS handshakes with the forged certificate, then closes."""

    def __init__(self, cert: Path, key: Path) -> None:
        super().__init__()
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)

    def handle(self, conn: socket.socket) -> None:
        with self.context.wrap_socket(conn, server_side=True):
            pass


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A config whose checks all read hostile targets: header conditions, metrics, a forged certificate."""
    cert, key = forged_certificate(tmp_path)
    with HostileServer() as server, TlsServer(cert, key) as tls:
        url = f"http://127.0.0.1:{server.port}"
        absent = {name: {"present": False} for name in HOSTILE_HEADERS}
        yield {
            "defaults": {"interval": "2s", "timeout": "1s", "failure_threshold": 1, "jitter": 0},
            "server": {"show_details": "always"},
            "components": {
                "web": {
                    "type": "http",
                    "url": url,
                    "connect_timeout": 0.5,
                    "checks": {
                        "headers": {"kind": "reachable", "path": "/", "expect_headers": absent},
                        "nan": {
                            "kind": "resources",
                            "metrics_path": "/metrics-nan",
                            "memory_limit": "1Gi",
                            "cpu_limit": 1,
                            "request_timeout": "500ms",
                            "severity": "degraded",
                        },
                        "inf": {
                            "kind": "resources",
                            "metrics_path": "/metrics-inf",
                            "memory_limit": "1Gi",
                            "cpu_limit": 1,
                            "request_timeout": "500ms",
                            "severity": "degraded",
                        },
                    },
                },
                "edge": {
                    "type": "tcp",
                    "host": "127.0.0.1",
                    "port": tls.port,
                    "tls": True,
                    "checks": {"cert": {"kind": "tls", "severity": "degraded"}},
                },
            },
        }


def safe_strings(value: Any) -> None:
    """Every string in a JSON document is printable (a multi-line value would be a bug too)."""
    if isinstance(value, str):
        assert UNSAFE.search(value) is None and "\n" not in value, ascii(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            safe_strings(key)
            safe_strings(item)
    elif isinstance(value, list):
        for item in value:
            safe_strings(item)
    elif isinstance(value, float):
        assert value == value and value not in (float("inf"), float("-inf"))


def expected_outputs(outputs: dict[str, str]) -> None:
    """What each check says about its hostile target: the target's text, escaped."""
    headers = outputs["web:headers"]
    assert 'header Server present ("nginx\\xe9"), expected absent' in headers
    assert '"c0\\x01\\x02' in headers and "\\x1f\\x7f" in headers
    assert '"c1\\x80\\x81' in headers and "\\x9f" in headers
    assert '"\\x80\\x81\\x82' in headers and '"\\xc0\\xc1' in headers
    assert '"a\\u2028b\\u2029c\\u202ed\\u2066e"' in headers
    assert "process_cpu_seconds_total read as nan, not a finite number" in outputs["web:nan"]
    assert "process_resident_memory_bytes read as inf, not a finite number" in outputs["web:inf"]
    assert "CN=evil\\n2026-12-04 16:00:00" in outputs["edge:cert"] and "\\x1b[2J\\x07" in outputs["edge:cert"]


def test_serve_answers_every_endpoint_and_logs_one_line_per_record(hostile: dict[str, Any], tmp_path: Path) -> None:
    config = tmp_path / "vigil.yaml"
    config.write_text(yaml.safe_dump(hostile))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [VIGIL, "serve", "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env())
    try:
        deadline = time.monotonic() + 30  # the first runs: 1 s timeouts, on a busy machine
        while True:
            assert proc.poll() is None, proc.communicate()
            try:
                if fetch(base + "/startupz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "vigil serve never finished its first runs"
            time.sleep(0.05)
        statuses = {}
        for path in ("/health", "/health/web", "/health/web/headers", "/health/edge", "/status.json"):
            status, body = fetch(base + path, timeout=5)
            statuses[path] = status
            assert status in (200, 503), (path, status, body)
            safe_strings(json.loads(body))
        _, health = fetch(base + "/health", timeout=5)
        checks = json.loads(health)["checks"]
        outputs = {check: entries[0]["output"] for check, entries in checks.items()}
        expected_outputs(outputs)
        assert {check: entries[0]["status"] for check, entries in checks.items()} == {
            "web:headers": "fail",
            "web:nan": "fail",
            "web:inf": "fail",
            "edge:cert": "fail",
        }
        status, verbose = fetch(base + "/readyz?verbose", timeout=5)
        assert status == 503
        assert UNSAFE.search(verbose) is None
        assert len(verbose.splitlines()) == 5  # one line per check, and the verdict
        status, metrics = fetch(base + "/metrics", timeout=5)
        assert status == 200
        observed = [line for line in metrics.splitlines() if line.startswith("vigil_check_observed{")]
        assert observed and not [line for line in observed if line.endswith(("NaN", "Inf"))]
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=15)
    logs = stderr.decode("utf-8")  # strict: no undecodable byte was written
    assert "Traceback" not in logs and "bug in Vigil" not in logs and "unexpected error" not in logs, logs
    for line in logs.splitlines():
        assert TEXT_LOG_LINE.match(line), ascii(line)
        assert UNSAFE.search(line) is None, ascii(line)
    assert "forged" in logs  # the certificate was logged, on the scheduler's own line
    assert not [line for line in logs.splitlines() if line.startswith(FORGED)]


@pytest.mark.parametrize("fmt", ["junit", "json", "table"])
def test_check_reports_stay_well_formed(hostile: dict[str, Any], tmp_path: Path, fmt: str) -> None:
    config = tmp_path / "vigil.yaml"
    config.write_text(yaml.safe_dump(hostile))
    report = tmp_path / f"report.{fmt}"
    done = subprocess.run(
        [VIGIL, "check", "--config", str(config), "--format", fmt, "--output", str(report)],
        capture_output=True,
        env=env(),
        timeout=60,
        check=False,
    )
    stderr = done.stderr.decode("utf-8")
    assert done.returncode == 1, stderr  # not ready: the critical header check fails; no crash
    assert "Traceback" not in stderr, stderr
    text = report.read_bytes().decode("utf-8")
    assert text, "empty report"
    if fmt == "junit":
        suites = ET.fromstring(text)  # expat: well-formed XML 1.0, or it raises
        failures = {
            f"{case.get('classname', '').removeprefix('vigil.')}:{case.get('name')}": case.find("failure")
            for case in suites.iter("testcase")
        }
        # A failing critical check is a <failure>; a failing degraded one (it does not gate readiness) system-out.
        said = {
            f"{case.get('classname', '').removeprefix('vigil.')}:{case.get('name')}": element.text or ""
            for case in suites.iter("testcase")
            for element in (case.find("failure"), case.find("system-out"))
            if element is not None
        }
        expected_outputs(said)
        assert all(UNSAFE.search(f.get("message") or "") is None for f in failures.values() if f is not None)
    elif fmt == "json":
        document = json.loads(text)
        safe_strings(document)
        expected_outputs({check: entries[0]["output"] for check, entries in document["checks"].items()})
    else:
        assert UNSAFE.search(text) is None
        assert "nginx\\xe9" in text
