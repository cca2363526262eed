"""A Redis behind Sentinel on loopback: a primary, a replica and three Sentinels (`redis-server FILE --sentinel`).

Down-after 1000 ms and failover-timeout 3000 ms, so a killed primary is replaced within seconds. Used by the tests and
by scripts that want a local Sentinel setup; passwords are optional (data nodes and Sentinels each their own), and
with `tls=True` every process speaks only TLS, with one self-signed certificate for 127.0.0.1 (`ca_file`).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from devenv.servers import RedisServer, _Process, free_port, self_signed_certificate, wait_for

MASTER = "mymaster"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 3000


class SentinelProcess(_Process):
    """One `redis-server FILE --sentinel`; its file is its own (Sentinel rewrites it), so a restart keeps its state."""

    name = "sentinel"

    def __init__(
        self,
        directory: Path,
        primary_port: int,
        data_password: str | None,
        password: str | None,
        ca_file: Path | None = None,
    ) -> None:
        self.port = free_port()
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.password = password
        self.ca_file = ca_file  # TLS only, with this certificate (its key beside it as key.pem)
        self.file = self.dir / "sentinel.conf"
        lines = [
            f"port {self.port}" if ca_file is None else f"port 0\ntls-port {self.port}",
            "bind 127.0.0.1",
            "daemonize no",
            f"dir {self.dir}",
            f"logfile {self.dir / 'sentinel.log'}",
            f"sentinel monitor {MASTER} 127.0.0.1 {primary_port} 2",
            f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}",
            f"sentinel failover-timeout {MASTER} {FAILOVER_TIMEOUT_MS}",
            f"sentinel parallel-syncs {MASTER} 1",
        ]
        if data_password:
            lines.append(f"sentinel auth-pass {MASTER} {data_password}")
        if password:
            lines.append(f"requirepass {password}")  # Sentinels also use it to authenticate to each other
        if ca_file is not None:  # tls-replication: the Sentinels' own connections (to nodes and each other) use TLS
            key = ca_file.with_name("key.pem")
            lines += [f"tls-cert-file {ca_file}", f"tls-key-file {key}", f"tls-ca-cert-file {ca_file}"]
            lines += ["tls-auth-clients no", "tls-replication yes"]
        self.file.write_text("\n".join(lines) + "\n")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> SentinelProcess:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen(
            [binary, str(self.file), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for(lambda: self.cli("PING") == "PONG", 10, f"sentinel on port {self.port}")
        return self

    def cli(self, *args: str) -> str:
        cmd = ["redis-cli", "-p", str(self.port)]
        if self.ca_file is not None:
            cmd += ["--tls", "--cacert", str(self.ca_file)]
        if self.password:
            cmd += ["--no-auth-warning", "-a", self.password]
        done = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=30)
        return done.stdout.strip()

    def master_state(self) -> dict[str, str]:
        """SENTINEL MASTER as a dict of strings (empty when it does not answer)."""
        words = self.cli("SENTINEL", "MASTER", MASTER).splitlines()
        return dict(zip(words[::2], words[1::2], strict=False))


class SentinelTopology:
    """A primary, a replica of it, and three Sentinels watching it as MASTER, in one temporary directory."""

    def __init__(
        self,
        data_password: str | None = None,
        sentinel_password: str | None = None,
        node_extra: list[str] | None = None,
        tls: bool = False,
    ) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="vigil-sentinel-"))
        self.data_password = data_password
        self.sentinel_password = sentinel_password
        self.ca_file = self_signed_certificate(self.dir)[0] if tls else None
        extra = [*(["--masterauth", data_password] if data_password else []), *(node_extra or [])]
        if tls:
            extra += ["--tls-replication", "yes"]
        self.nodes = [
            RedisServer(directory=self._sub(f"node{i}"), password=data_password, extra=list(extra), tls=tls)
            for i in range(2)
        ]
        if self.ca_file is not None:  # one certificate for every process, so one CA file for the client
            for node in self.nodes:
                shutil.copy(self.ca_file, node.ca_file)
                shutil.copy(self.ca_file.with_name("key.pem"), node.dir / "key.pem")
        self.nodes[1].extra += ["--replicaof", "127.0.0.1", str(self.nodes[0].port)]
        self.sentinels = [
            SentinelProcess(
                self.dir / f"sentinel{i}", self.nodes[0].port, data_password, sentinel_password, self.ca_file
            )
            for i in range(3)
        ]

    def _sub(self, name: str) -> Path:
        path = self.dir / name
        path.mkdir()
        return path

    @property
    def addresses(self) -> list[str]:
        return [sentinel.address for sentinel in self.sentinels]

    def start(self, timeout: float = 30) -> SentinelTopology:
        for node in self.nodes:
            node.start()
        for sentinel in self.sentinels:
            sentinel.start()
        self.wait_settled(timeout)
        return self

    def wait_settled(self, timeout: float) -> None:
        """Until every running Sentinel sees the primary up, one replica up and the two other Sentinels."""

        def settled() -> bool:
            for sentinel in self.sentinels:
                state = sentinel.master_state()
                if (
                    state.get("flags") != "master"
                    or state.get("num-other-sentinels") != "2"
                    or state.get("num-slaves") != "1"
                ):
                    return False
            replica = next(node for node in self.nodes if node.port != self.primary_port())
            return self.replicas_up() == 1 and "master_link_status:up" in replica.cli("INFO", "replication")

        wait_for(settled, timeout, "the Sentinels to see the primary, its replica and each other", interval=0.2)

    def replicas_up(self) -> int:
        lines = self.sentinels[0].cli("SENTINEL", "REPLICAS", MASTER).splitlines()
        entries = [lines[i : i + 2] for i in range(0, len(lines) - 1, 2)]
        flags = [value for key, value in entries if key == "flags"]
        return sum(1 for value in flags if value == "slave")

    def primary_port(self) -> int:
        """The primary's port as the first Sentinel that answers names it."""
        for sentinel in self.sentinels:
            port = sentinel.cli("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER).splitlines()[1:]
            if port:
                return int(port[0])
        raise RuntimeError("no Sentinel named a primary")

    def node(self, port: int) -> RedisServer:
        return next(node for node in self.nodes if node.port == port)

    def wait_failover(self, old_port: int, timeout: float) -> int:
        """Until every Sentinel names a primary other than `old_port`, seen up; its port."""

        def moved() -> bool:
            states = [sentinel.master_state() for sentinel in self.sentinels]
            return all(s.get("port") not in (None, str(old_port)) and s.get("flags") == "master" for s in states)

        wait_for(moved, timeout, "the Sentinels to fail over", interval=0.1)
        return self.primary_port()

    def wait_role(self, port: int, role: str, timeout: float) -> None:
        """Until the node on `port` says `role:ROLE` (master, slave) in INFO replication."""
        node = self.node(port)
        wait_for(lambda: f"role:{role}" in node.cli("INFO", "replication"), timeout, f"{node.port} to be a {role}")

    def cleanup(self) -> None:
        for process in [*self.sentinels, *self.nodes]:
            process.terminate()
        shutil.rmtree(self.dir, ignore_errors=True)
