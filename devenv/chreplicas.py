"""A replicated ClickHouse on loopback: ZooKeeper (Debian `zookeeper`) and clickhouse-servers in one cluster.

`ReplicatedTopology` starts ZooKeeper, two replicas of shard 1 and (optionally) one host of shard 2, all in the
cluster `vigil` of each server's `remote_servers`, with `{shard}`/`{replica}` macros for ReplicatedMergeTree tables.
Used by the replication tests and by `scripts/run-local.sh --clickhouse-replicas`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from devenv.servers import ClickHouseServer, _Process, free_port, wait_for

CLUSTER = "vigil"
# A replica's ZooKeeper session ends this long after it last heard from the replica (a paused one); short, so the
# other replicas see it inactive within seconds.
SESSION_TIMEOUT_MS = 3000


class ZooKeeper(_Process):
    """A standalone ZooKeeper (Debian's 3.8) on a free loopback port, its data in a directory that survives restarts."""

    name = "zookeeper"

    def __init__(self, directory: Path | None = None) -> None:
        self.dir = directory or Path(tempfile.mkdtemp(prefix="vigil-zookeeper-"))
        self.port = free_port()
        (self.dir / "data").mkdir(parents=True, exist_ok=True)
        (self.dir / "log").mkdir(parents=True, exist_ok=True)
        (self.dir / "zoo.cfg").write_text(
            "tickTime=500\ninitLimit=10\nsyncLimit=5\n"
            f"dataDir={self.dir / 'data'}\nclientPort={self.port}\nclientPortAddress=127.0.0.1\n"
            "admin.enableServer=false\n4lw.commands.whitelist=ruok\n"
            "maxSessionTimeout=60000\n"
        )

    def start(self, timeout: float = 60) -> ZooKeeper:
        # What zkServer.sh start-foreground runs, without its /etc/zookeeper/conf/environment (which sends the logs
        # to /var/log/zookeeper): the JVM itself, a small heap, the logs in this directory.
        log = self.dir / "log"
        with open(log / "zookeeper.out", "ab") as out:
            self.proc = subprocess.Popen(
                [
                    shutil.which("java") or "/usr/bin/java",
                    "-Xmx128m",
                    "-XX:+UseSerialGC",
                    f"-Dzookeeper.log.dir={log}",
                    "-cp",
                    "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar",
                    "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                    str(self.dir / "zoo.cfg"),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_for(self._ruok, timeout, f"zookeeper on port {self.port}", interval=0.2)
        return self

    def restart(self) -> ZooKeeper:
        """Stopped and started again on the same port and data: the replicas' tables are still registered."""
        self.terminate()
        return self.start()

    def _ruok(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"zookeeper exited with {self.proc.returncode}; logs in {self.dir / 'log'}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"ruok")
                return sock.recv(16) == b"imok"
        except OSError:
            return False

    def cleanup(self) -> None:
        self.terminate()
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass(frozen=True, slots=True)
class Member:
    """One server of the cluster: its shard and replica names (its macros)."""

    server: ClickHouseServer
    shard: int
    replica: str

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.tcp_port}"


def _cluster_xml(members: list[Member]) -> str:
    shards: dict[int, list[Member]] = {}
    for member in members:
        shards.setdefault(member.shard, []).append(member)
    body = "".join(
        "<shard><internal_replication>true</internal_replication>"
        + "".join(f"<replica><host>127.0.0.1</host><port>{m.server.tcp_port}</port></replica>" for m in hosts)
        + "</shard>"
        for _, hosts in sorted(shards.items())
    )
    return f"<remote_servers><{CLUSTER}>{body}</{CLUSTER}></remote_servers>"


def configure(member: Member, members: list[Member], zookeeper: ZooKeeper) -> None:
    """Point a server's config at ZooKeeper, give it its macros, and the cluster of all `members`."""
    path = member.server.dir / "config.xml"
    text = path.read_text()
    text, found = re.subn(r"<remote_servers\b.*?</remote_servers>", _cluster_xml(members), text, flags=re.S)
    assert found == 1, "the packaged config.xml has no remote_servers section"
    zk = (
        f"<zookeeper><node><host>127.0.0.1</host><port>{zookeeper.port}</port></node>"
        f"<session_timeout_ms>{SESSION_TIMEOUT_MS}</session_timeout_ms></zookeeper>"
    )
    macros = f"<macros><shard>{member.shard}</shard><replica>{member.replica}</replica></macros>"
    # A replica checks whether its ZooKeeper session expired (and goes read-only, or back) every this many seconds.
    merge_tree = "<merge_tree><zookeeper_session_expiration_check_period>1</zookeeper_session_expiration_check_period></merge_tree>"
    text = re.sub(r"<zookeeper incl=[^>]*/>", zk, text)
    text = re.sub(r"<macros incl=[^>]*/>", macros, text)
    text = text.replace("</yandex>", f"{merge_tree}</yandex>")
    path.write_text(text)


@dataclass
class ReplicatedTopology:
    """ZooKeeper, shard 1 on two replicas (`r1`, `r2`), and with `second_shard` one more host (`s2`) as shard 2."""

    base: Path
    second_shard: bool = True
    zookeeper: ZooKeeper = field(init=False)
    members: list[Member] = field(init=False)

    def __post_init__(self) -> None:
        self.zookeeper = ZooKeeper(self.base / "zookeeper")
        names = [(1, "r1"), (1, "r2")] + ([(2, "s2")] if self.second_shard else [])
        self.members = []
        for shard, replica in names:
            directory = self.base / replica
            directory.mkdir(parents=True, exist_ok=True)
            self.members.append(Member(ClickHouseServer(directory), shard, replica))
        for member in self.members:
            configure(member, self.members, self.zookeeper)

    @property
    def r1(self) -> ClickHouseServer:
        return self.members[0].server

    @property
    def r2(self) -> ClickHouseServer:
        return self.members[1].server

    @property
    def s2(self) -> ClickHouseServer:
        assert self.second_shard
        return self.members[2].server

    def start(self) -> ReplicatedTopology:
        self.zookeeper.start()
        for member in self.members:
            member.server.start()
        return self

    def create_replicated(self, database: str, table: str, columns: str, order_by: str, partition: str = "") -> None:
        """The same ReplicatedMergeTree table on every server, replicated within each shard."""
        part = f" PARTITION BY {partition}" if partition else ""
        for member in self.members:
            member.server.query(f"CREATE DATABASE IF NOT EXISTS {database}")
            member.server.query(
                f"CREATE TABLE IF NOT EXISTS {database}.{table} ({columns}) ENGINE = ReplicatedMergeTree("
                f"'/clickhouse/tables/{{shard}}/{database}/{table}', '{{replica}}'){part} ORDER BY {order_by}"
            )

    def stop(self) -> None:
        """SIGTERM to every server at once (each takes seconds to finish), then wait for them, then ZooKeeper."""
        running = [m.server.proc for m in self.members if m.server.proc is not None and m.server.proc.poll() is None]
        for proc in running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGCONT)  # a paused server would never see the SIGTERM
            proc.terminate()
        for proc in running:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self.zookeeper.terminate()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


def seed_demo(topo: ReplicatedTopology, hours: int = 30) -> None:
    """Demo data for `run-local.sh --clickhouse-replicas`: a replicated `demo.events` table in both shards, one row
    a minute for `hours` on each shard, written once per shard (replication copies shard 1's rows to r2)."""
    topo.create_replicated("demo", "events", "ts DateTime, event_id UInt64, value Float64", "(ts, event_id)")
    now = int(topo.r1.query("SELECT toUInt32(now())"))
    rows, last = hours * 60, now // 60 * 60
    writers = [topo.r1] + ([topo.s2] if topo.second_shard else [])
    for shard, server in enumerate(writers, start=1):
        server.query(
            f"INSERT INTO demo.events SELECT toDateTime({last} - ({rows - 1} - number) * 60), number, "
            f"number * {shard} * 0.1 FROM numbers({rows})"
        )


if __name__ == "__main__":  # scripts/run-local.sh --clickhouse-replicas: start, seed, print ports, run until stopped
    import sys

    base = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="vigil-replicas-"))
    shutil.rmtree(base, ignore_errors=True)
    topology = ReplicatedTopology(base)
    try:
        topology.start()
        seed_demo(topology)
        # Blocked only now, so the servers do not inherit the mask; sigwait below receives them.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        print(
            f"ZOOKEEPER_PORT={topology.zookeeper.port} CLICKHOUSE_R1_PORT={topology.r1.tcp_port} "
            f"CLICKHOUSE_R2_PORT={topology.r2.tcp_port} CLICKHOUSE_S2_PORT={topology.s2.tcp_port}",
            flush=True,
        )
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        topology.stop()
