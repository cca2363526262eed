"""A Redis Cluster's topology as one node sees it (CLUSTER NODES, which every version answers), and slot arithmetic.

Pure: text in, frozen values out; the cluster client asks, the `cluster` check judges.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from redis.crc import key_slot

SLOTS = 16384
SlotRange = tuple[int, int]  # inclusive


def host_port(address: str) -> tuple[str, int]:
    """`host:port` (or `[v6]:port`) split; ValueError with the reason for anything else."""
    host, sep, port = address.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host:
        raise ValueError(f"{address!r} is not host:port")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{address!r} has no valid port")
    return host, int(port)


def address_of(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True, slots=True)
class ClusterNode:
    """One line of CLUSTER NODES: `id ip:port@cport[,hostname] flags primary ping pong epoch link slots...`."""

    id: str
    address: str  # host:port, as the cluster announces it
    flags: frozenset[str]
    primary_id: str | None  # a replica's primary; None for a primary
    config_epoch: int
    connected: bool  # the link state of the node that answered
    slots: tuple[SlotRange, ...]

    @property
    def is_primary(self) -> bool:
        return "master" in self.flags

    @property
    def failed(self) -> bool:
        """Flagged `fail`: a majority of primaries agreed it is unreachable."""
        return "fail" in self.flags

    @property
    def suspected(self) -> bool:
        """Flagged `fail?` (pfail): the node that answered cannot reach it, no majority yet."""
        return "fail?" in self.flags

    @property
    def slot_count(self) -> int:
        return sum(high - low + 1 for low, high in self.slots)


def parse_node(line: str) -> ClusterNode | None:
    """One CLUSTER NODES line; None for a line that is not one (or a node with no address yet: `:0@0`, noaddr)."""
    fields = line.split()
    if len(fields) < 8:
        return None
    address = fields[1].split("@", 1)[0].split(",", 1)[0]
    flags = frozenset(fields[2].split(","))
    if "noaddr" in flags or "handshake" in flags:
        return None
    try:
        host, port = host_port(address)
        epoch = int(fields[6])
    except ValueError:
        return None
    slots: list[SlotRange] = []
    for entry in fields[8:]:
        if entry.startswith("["):  # a slot being imported or migrated: still owned as listed elsewhere
            continue
        low, _, high = entry.partition("-")
        if low.isdigit() and (not high or high.isdigit()):
            slots.append((int(low), int(high or low)))
    primary = None if fields[3] == "-" else fields[3]
    return ClusterNode(
        fields[0], address_of(host, port), flags, primary, epoch, fields[7] == "connected", tuple(sorted(slots))
    )


@dataclass(frozen=True, slots=True)
class Topology:
    """The nodes as one node (`seen_by`) reports them."""

    seen_by: str
    nodes: tuple[ClusterNode, ...]

    @classmethod
    def parse(cls, seen_by: str, text: str) -> Topology:
        nodes = (parse_node(line) for line in text.splitlines())
        return cls(seen_by, tuple(node for node in nodes if node is not None))

    @property
    def primaries(self) -> list[ClusterNode]:
        """Primaries that own slots (a primary with none serves nothing), in slot order."""
        owners = [node for node in self.nodes if node.is_primary and node.slots]
        return sorted(owners, key=lambda node: node.slots[0])

    def replicas_of(self, primary: ClusterNode) -> list[ClusterNode]:
        return [node for node in self.nodes if node.primary_id == primary.id]

    def by_id(self, node_id: str) -> ClusterNode | None:
        return next((node for node in self.nodes if node.id == node_id), None)

    @property
    def addresses(self) -> list[str]:
        return [node.address for node in self.nodes]

    @property
    def max_epoch(self) -> int:
        return max((node.config_epoch for node in self.nodes), default=0)


def merged(ranges: Iterable[SlotRange]) -> list[SlotRange]:
    """Ranges sorted and joined where they touch."""
    out: list[SlotRange] = []
    for low, high in sorted(ranges):
        if out and low <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], high))
        else:
            out.append((low, high))
    return out


def unassigned(topology: Topology) -> list[SlotRange]:
    """Slot ranges no primary claims."""
    free: list[SlotRange] = []
    after = 0
    for low, high in merged(r for node in topology.nodes if node.is_primary for r in node.slots):
        if low > after:
            free.append((after, low - 1))
        after = max(after, high + 1)
    if after < SLOTS:
        free.append((after, SLOTS - 1))
    return free


def ranges_text(ranges: list[SlotRange]) -> str:
    """`slot 42`, `slots 0-5460`, `slots 0-10, 20-30`."""
    parts = [str(low) if low == high else f"{low}-{high}" for low, high in ranges]
    single = len(ranges) == 1 and ranges[0][0] == ranges[0][1]
    return f"{'slot' if single else 'slots'} {', '.join(parts)}"


def slot_count(ranges: Iterable[SlotRange]) -> int:
    return sum(high - low + 1 for low, high in ranges)


def owns(slots: tuple[SlotRange, ...], slot: int) -> bool:
    return any(low <= slot <= high for low, high in slots)


def hash_tag(slots: tuple[SlotRange, ...], limit: int = 1_000_000) -> str | None:
    """A short hash tag (`{v12}`) whose keys land in one of `slots`, so a key written under it goes to the primary
    that owns them; None when none is found within `limit` tries (a primary owning a handful of slots)."""
    for i in range(limit):
        tag = f"{{v{i}}}"
        if owns(slots, key_slot(tag.encode())):
            return tag
    return None


def slot_of(key: str | bytes) -> int:
    return int(key_slot(key.encode() if isinstance(key, str) else key))
