"""Private redis-server and clickhouse-server processes on free loopback ports, in temporary directories.

Used by the test fixtures and by scripts/run-local.sh. Fault helpers kill, pause (SIGSTOP) and restart them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path


def all_stopped(pid: int) -> bool:
    """Whether every thread of `pid` is in the stopped state (T in /proc/PID/task/TID/stat)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        if stat[stat.rindex(")") + 2] not in "Tt":
            return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout}s")


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """`cert.pem` (also the CA a client must trust) and `key.pem` for 127.0.0.1 in `directory`, made by openssl."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


class _Process:
    name = "server"
    proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def pause(self, timeout: float = 5.0) -> None:
        """SIGSTOP, returning once every thread of the server has stopped: the signal is delivered asynchronously,
        and a thread already running (ClickHouse has dozens) could otherwise still answer a request or two."""
        os.kill(self.pid, signal.SIGSTOP)
        deadline = time.monotonic() + timeout
        while not all_stopped(self.pid):
            if time.monotonic() > deadline:
                raise TimeoutError(f"pid {self.pid} did not stop within {timeout:g}s of SIGSTOP")
            time.sleep(0.001)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: the server dies without saving anything."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)

    def terminate(self, timeout: float = 15) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


class RedisServer(_Process):
    """`redis-server` with no persistence unless asked (`appendonly=True`, or `extra` arguments)."""

    name = "redis"

    def __init__(
        self,
        port: int | None = None,
        *,
        appendonly: bool = False,
        extra: list[str] | None = None,
        password: str | None = None,
        directory: Path | None = None,
        tls: bool = False,
    ) -> None:
        self.port = port or free_port()
        self.dir = directory or Path(tempfile.mkdtemp(prefix="vigil-redis-"))
        self.appendonly = appendonly
        self.extra = list(extra or [])
        self.password = password
        self.tls = tls
        if tls:  # a self-signed certificate for 127.0.0.1, which is also the CA clients must trust
            self_signed_certificate(self.dir)

    @property
    def ca_file(self) -> Path:
        return self.dir / "cert.pem"

    @property
    def url(self) -> str:
        return f"{'rediss' if self.tls else 'redis'}://127.0.0.1:{self.port}/0"

    def args(self) -> list[str]:
        args = [
            shutil.which("redis-server") or "/usr/bin/redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.dir),
            "--save",
            "",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--daemonize",
            "no",
            "--logfile",
            str(self.dir / "redis.log"),
        ]
        if self.appendonly:
            args += ["--appendfsync", "always"]
        if self.password:
            args += ["--requirepass", self.password]
        if self.tls:
            args[args.index("--port") + 1] = "0"
            args += [
                "--tls-port",
                str(self.port),
                "--tls-cert-file",
                str(self.ca_file),
                "--tls-key-file",
                str(self.dir / "key.pem"),
                "--tls-ca-cert-file",
                str(self.ca_file),
                "--tls-auth-clients",
                "no",
            ]
        return args + self.extra

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(self.args(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._pong, 10, f"redis-server on port {self.port}")
        return self

    def restart(self) -> RedisServer:
        self.terminate()
        return self.start()

    def _pong(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"redis-server exited: {(self.dir / 'redis.log').read_text()[-2000:]}")
        try:
            with self._connect() as sock:
                if self.password:
                    sock.sendall(f"AUTH {self.password}\r\n".encode())
                    sock.recv(64)
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=0.5)
        if not self.tls:
            return sock
        context = ssl.create_default_context(cafile=str(self.ca_file))
        return context.wrap_socket(sock, server_hostname="127.0.0.1")

    def cli(self, *args: str) -> str:
        """Run one command with redis-cli (for tests to shape the server's state)."""
        cmd = ["redis-cli", "-p", str(self.port)]
        if self.tls:
            cmd += ["--tls", "--cacert", str(self.ca_file)]
        if self.password:
            cmd += ["--no-auth-warning", "-a", self.password]
        return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=30, check=True).stdout.strip()

    def cleanup(self) -> None:
        self.terminate()
        shutil.rmtree(self.dir, ignore_errors=True)


class ClickHouseServer(_Process):
    """A private `clickhouse-server` (18.16 from Debian) built from the packaged config with ports and paths rewritten."""

    name = "clickhouse"

    def __init__(self, directory: Path | None = None) -> None:
        self.dir = directory or Path(tempfile.mkdtemp(prefix="vigil-clickhouse-"))
        self.tcp_port = free_port()
        self.http_port = free_port()
        self.interserver_port = free_port()
        self._write_config()

    def _write_config(self) -> None:
        source = Path("/etc/clickhouse-server")
        data = self.dir / "data"
        logs = self.dir / "log"
        for sub in (data, logs, data / "tmp", data / "user_files", data / "format_schemas"):
            sub.mkdir(parents=True, exist_ok=True)
        text = (source / "config.xml").read_text()
        text = text.replace("/var/lib/clickhouse/", f"{data}/").replace("/var/log/clickhouse-server/", f"{logs}/")
        text = re.sub(r"<http_port>\d+</http_port>", f"<http_port>{self.http_port}</http_port>", text)
        text = re.sub(r"<tcp_port>\d+</tcp_port>", f"<tcp_port>{self.tcp_port}</tcp_port>", text)
        text = re.sub(
            r"<interserver_http_port>\d+</interserver_http_port>",
            f"<interserver_http_port>{self.interserver_port}</interserver_http_port>",
            text,
        )
        text = text.replace("<listen_host>::1</listen_host>", "")
        (self.dir / "config.xml").write_text(text)
        shutil.copy(source / "users.xml", self.dir / "users.xml")

    def start(self, timeout: float = 30) -> ClickHouseServer:
        binary = shutil.which("clickhouse-server") or "/usr/bin/clickhouse-server"
        self.proc = subprocess.Popen(
            [binary, "--config-file", str(self.dir / "config.xml")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.dir,
        )
        wait_for(self._ping, timeout, f"clickhouse-server on port {self.tcp_port}", interval=0.1)
        return self

    def restart(self) -> ClickHouseServer:
        self.terminate()
        return self.start()

    def _ping(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            err = self.dir / "log" / "clickhouse-server.err.log"
            raise RuntimeError(f"clickhouse-server exited: {err.read_text()[-2000:] if err.exists() else ''}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/ping", timeout=0.5) as response:
                return bool(response.read().startswith(b"Ok"))
        except OSError:
            return False

    def query(self, sql: str, timeout: float = 60) -> str:
        """Run SQL over the HTTP interface (for tests to seed and inspect; Vigil itself uses the native protocol)."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.http_port}/", data=sql.encode(), method="POST")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return str(response.read().decode())

    def cleanup(self) -> None:
        self.terminate()
        shutil.rmtree(self.dir, ignore_errors=True)


def create_event_tables(server: ClickHouseServer, db: str, partition: str = "toYYYYMMDD(ts)") -> None:
    """The events schema the ClickHouse tests, benchmark and demo share: a raw MergeTree `events` table, an
    hourly SummingMergeTree materialized view over it and a daily SummingMergeTree table (see `fill_daily`)."""
    server.query(f"CREATE DATABASE IF NOT EXISTS {db}")
    server.query(
        f"CREATE TABLE {db}.events (ts DateTime, event_id UInt64, user_id UInt32, value Float64) "
        f"ENGINE = MergeTree PARTITION BY {partition} ORDER BY (ts, event_id)"
    )
    server.query(
        f"CREATE MATERIALIZED VIEW {db}.events_hourly ENGINE = SummingMergeTree() PARTITION BY toYYYYMM(hour) "
        f"ORDER BY hour AS SELECT toStartOfHour(ts) AS hour, count() AS events, sum(value) AS value "
        f"FROM {db}.events GROUP BY hour"
    )
    server.query(
        f"CREATE TABLE {db}.events_daily (day Date, events UInt64, value Float64) "
        "ENGINE = SummingMergeTree() ORDER BY day"
    )


def fill_daily(server: ClickHouseServer, db: str) -> None:
    """Build the daily level from the hourly one, once the raw rows are in."""
    server.query(
        f"INSERT INTO {db}.events_daily SELECT toDate(hour), sum(events), sum(value) "
        f"FROM {db}.events_hourly GROUP BY toDate(hour)"
    )


def event_rollup_levels(db: str) -> list[dict[str, object]]:
    """The `rollup` check's levels for the shared events schema: raw -> hourly -> daily."""
    return [
        {
            "name": "raw",
            "table": f"{db}.events",
            "time_column": "ts",
            "measures": {"count": "count()", "value": "sum(value)"},
        },
        {
            "name": "hourly",
            "table": f"{db}.events_hourly",
            "time_column": "hour",
            "bucket": "1h",
            "measures": {"count": "sum(events)", "value": "sum(value)"},
        },
        {
            "name": "daily",
            "table": f"{db}.events_daily",
            "time_column": "day",
            "bucket": 86400,
            "measures": {"count": "sum(events)", "value": "sum(value)"},
        },
    ]


def seed_demo(redis_server: RedisServer, clickhouse: ClickHouseServer) -> None:
    """Demo data for the local default: a feature-flag key and sessions in Redis; in ClickHouse, 50 hours of
    one event a minute with an hourly materialized view and a daily rollup, for the data-quality checks."""
    redis_server.cli("SET", "feature:flags", '{"new_checkout": true}')
    for i in range(20):
        redis_server.cli("SET", f"session:demo-{i}", "user", "EX", str(3600 + 60 * i))
    q = clickhouse.query
    now = int(q("SELECT toUInt32(now())"))
    last = now // 60 * 60
    rows = 50 * 60
    create_event_tables(clickhouse, "demo")
    q(
        f"INSERT INTO demo.events SELECT toDateTime({last} - ({rows - 1} - number) * 60), number, number % 7, "
        f"number * 0.1 FROM numbers({rows})"
    )
    fill_daily(clickhouse, "demo")


if __name__ == "__main__":  # scripts/run-local.sh: start both, seed demo data, print ports, run until interrupted
    import sys

    base = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="vigil-local-"))
    redis_server = RedisServer(port=int(os.environ.get("REDIS_PORT", "0")) or None, directory=base / "redis")
    (base / "redis").mkdir(parents=True, exist_ok=True)
    clickhouse = ClickHouseServer(directory=base / "clickhouse")
    redis_server.start()
    clickhouse.start()
    seed_demo(redis_server, clickhouse)
    # Blocked only now, so the servers do not inherit the mask; sigwait below receives them.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    print(
        f"REDIS_PORT={redis_server.port} CLICKHOUSE_PORT={clickhouse.tcp_port} CLICKHOUSE_HTTP_PORT={clickhouse.http_port}",
        flush=True,
    )
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        redis_server.terminate()
        clickhouse.terminate()
