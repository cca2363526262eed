"""A private Redis Cluster on loopback: redis-server processes in cluster mode, joined by `redis-cli --cluster create`
(or by hand, leaving slots unassigned). Used by the cluster tests and by scripts/run-local.sh.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from devenv.servers import RedisServer, wait_for

NODE_TIMEOUT_MS = 1500
SLOTS = 16384


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_ports(count: int) -> list[int]:
    """`count` free loopback ports below 55536 whose cluster bus ports (port + 10000) are free too."""
    ports: list[int] = []
    while len(ports) < count:
        port = random.randint(20000, 45000)
        if port not in ports and _bindable(port) and _bindable(port + 10000):
            ports.append(port)
    return ports


class RedisCluster:
    """`primaries` x (1 + `replicas`) redis-server nodes in cluster mode, in one temporary directory.

    `replica_failover=False` starts every node with `cluster-replica-no-failover yes`: a replica takes over only when
    told (`takeover`), so a test sees the slots of a dead primary uncovered for as long as it likes."""

    def __init__(
        self,
        primaries: int = 3,
        replicas: int = 1,
        *,
        password: str | None = None,
        replica_failover: bool = True,
        appendonly: bool = False,
        directory: Path | None = None,
    ) -> None:
        self.dir = directory or Path(tempfile.mkdtemp(prefix="vigil-cluster-"))
        self.primaries, self.replicas, self.password = primaries, replicas, password
        extra = ["--cluster-enabled", "yes", "--cluster-node-timeout", str(NODE_TIMEOUT_MS)]
        if not replica_failover:
            extra += ["--cluster-replica-no-failover", "yes"]
        self.nodes: list[RedisServer] = []
        for port in cluster_ports(primaries * (1 + replicas)):
            node_dir = self.dir / str(port)
            node_dir.mkdir()
            server = RedisServer(port, extra=extra, password=password, directory=node_dir, appendonly=appendonly)
            self.nodes.append(server)

    @property
    def seeds(self) -> list[str]:
        return [f"127.0.0.1:{node.port}" for node in self.nodes[: self.primaries]]

    def node(self, port: int) -> RedisServer:
        return next(node for node in self.nodes if node.port == port)

    def start(self, timeout: float = 60) -> RedisCluster:
        """Every node started and joined with `redis-cli --cluster create`; returns once all say cluster_state:ok."""
        for node in self.nodes:
            node.start()
        command = ["redis-cli", "--cluster", "create", *[f"127.0.0.1:{n.port}" for n in self.nodes]]
        command += ["--cluster-replicas", str(self.replicas), "--cluster-yes"]
        if self.password:
            command += ["--no-auth-warning", "-a", self.password]
        subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=True)
        self.wait_converged(timeout)
        return self

    def start_partial(self, ranges: list[tuple[int, int]], timeout: float = 60) -> RedisCluster:
        """The nodes joined by hand (CLUSTER MEET), node i owning `ranges[i]` (a primary with no range owns none):
        slots in no range stay unassigned. No replicas."""
        for node in self.nodes:
            node.start()
        first = self.nodes[0]
        for node in self.nodes[1:]:
            first.cli("CLUSTER", "MEET", "127.0.0.1", str(node.port))
        for node, (low, high) in zip(self.nodes, ranges, strict=False):
            node.cli("CLUSTER", "ADDSLOTSRANGE", str(low), str(high))
        wait_for(lambda: self._all_know(len(self.nodes)), timeout, "cluster nodes meeting")
        # Each node learns the others' slots by gossip, a while after it knows the nodes themselves.
        assigned = sum(high - low + 1 for low, high in ranges)
        wait_for(lambda: self._all_see_assigned(assigned), timeout, f"{assigned} slots assigned on every node")
        return self

    def _all_see_assigned(self, count: int) -> bool:
        return all(self.info(node).get("cluster_slots_assigned", "").strip() == str(count) for node in self.nodes)

    def _all_know(self, count: int) -> bool:
        for node in self.nodes:
            lines = [line for line in node.cli("CLUSTER", "NODES").splitlines() if line.strip()]
            if len(lines) < count or any("handshake" in line or "noaddr" in line for line in lines):
                return False
        return True

    def info(self, node: RedisServer) -> dict[str, str]:
        text = node.cli("CLUSTER", "INFO")
        return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)

    def wait_state(self, state: str, timeout: float = 60, nodes: list[RedisServer] | None = None) -> None:
        """Until every running node (or those given) reports cluster_state:`state`."""

        def reached() -> bool:
            for node in nodes or self.running():
                try:
                    if self.info(node).get("cluster_state", "").strip() != state:
                        return False
                except subprocess.SubprocessError:
                    return False
            return True

        wait_for(reached, timeout, f"cluster_state:{state}", interval=0.1)

    def running(self) -> list[RedisServer]:
        return [node for node in self.nodes if node.proc is not None and node.proc.poll() is None]

    def primary_ports(self) -> list[int]:
        """The ports of the nodes that are primaries now, as a running node sees it."""
        text = self.running()[0].cli("CLUSTER", "NODES")
        ports = []
        for line in text.splitlines():
            fields = line.split()
            if len(fields) >= 8 and "master" in fields[2].split(",") and "fail" not in fields[2].split(","):
                ports.append(int(fields[1].split("@")[0].rsplit(":", 1)[1]))
        return sorted(ports)

    def replica_of(self, port: int) -> RedisServer:
        """The node that replicates the primary on `port`."""
        for node in self.running():
            if node.port == port:
                continue
            replication = node.cli("INFO", "replication")
            if "role:slave" in replication and f"master_port:{port}" in replication:
                return node
        raise LookupError(f"no replica of 127.0.0.1:{port}")

    def wait_converged(self, timeout: float = 60) -> None:
        """Until every running node says cluster_state:ok, sees no node flagged fail or pfail and knows every running
        replica as one, and every replica's link to its primary is up."""

        def converged() -> bool:
            for node in self.running():
                replication = node.cli("INFO", "replication")
                if "role:slave" in replication and "master_link_status:up" not in replication:
                    return False
                if node.cli("CLUSTER", "NODES").count("slave") < len(self.running()) - self.primaries:
                    return False
                text = node.cli("CLUSTER", "NODES")
                if any(
                    flag in ("fail", "fail?") or flag == "handshake"
                    for line in text.splitlines()
                    for flag in (line.split()[2].split(",") if len(line.split()) > 2 else [])
                ):
                    return False
            return True

        self.wait_state("ok", timeout)
        wait_for(converged, timeout, "cluster converged", interval=0.1)

    def cleanup(self) -> None:
        for node in self.nodes:
            node.terminate()
        time.sleep(0)
        shutil.rmtree(self.dir, ignore_errors=True)


if __name__ == "__main__":  # scripts/run-local.sh --redis-cluster: start one, print its seeds, run until interrupted
    import signal
    import sys

    base = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="vigil-cluster-"))
    base.mkdir(parents=True, exist_ok=True)
    local = RedisCluster(appendonly=True, directory=base)
    try:
        local.start()
        # Blocked only now, so the servers do not inherit the mask; sigwait below receives them.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        print(f"REDIS_CLUSTER_SEEDS={','.join(local.seeds)}", flush=True)
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        for node in local.nodes:
            node.terminate()
