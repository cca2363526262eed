"""How the `cluster` check judges what the nodes said: CLUSTER INFO and CLUSTER NODES of each node in, findings out.

Pure: no I/O, so slot coverage, replica counts, failing nodes and epochs are judged and worded without a server.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app import units
from app.checks.judging import Finding
from app.clients.redis_topology import SLOTS, ClusterNode, SlotRange, Topology, merged, ranges_text, unassigned
from app.model import Status


@dataclass(frozen=True, slots=True)
class NodeView:
    """What one node answered: its CLUSTER INFO fields and its CLUSTER NODES."""

    address: str
    info: dict[str, str]
    topology: Topology

    @property
    def state(self) -> str:
        return self.info.get("cluster_state", "unknown")

    @property
    def current_epoch(self) -> int | None:
        value = self.info.get("cluster_current_epoch", "")
        return int(value) if value.isdigit() else None


def parse_info(text: str) -> dict[str, str]:
    """CLUSTER INFO's `field:value` lines."""
    pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def reference(views: list[NodeView]) -> NodeView:
    """The view the cluster's layout is judged from: the most recent one (highest current epoch, then the highest
    config epoch it knows), so a node that missed the last failover does not speak for the cluster."""
    return max(views, key=lambda view: (view.current_epoch or 0, view.topology.max_epoch))


@dataclass(slots=True)
class Judgement:
    """The findings and the figures the observations and the summary show."""

    findings: list[Finding] = field(default_factory=list)
    slots_served: int = 0
    slots_unassigned: int = 0
    slots_without_replica: int = 0
    primaries: int = 0
    replicas: int = 0
    failing: list[str] = field(default_factory=list)  # nodes flagged fail or pfail by some node
    epochs: dict[str, int] = field(default_factory=dict)  # each answering node's current epoch

    @property
    def without_replica_ratio(self) -> float:
        return self.slots_without_replica / SLOTS


def judge(views: list[NodeView], silent: dict[str, str], replicas_required: int) -> Judgement:
    """`views`: the nodes that answered (at least one); `silent`: the others, with the sentence of their error."""
    found = Judgement()
    ref = reference(views)
    topology = ref.topology
    failed = {node.id for view in views for node in view.topology.nodes if node.failed}
    suspected = {node.id for view in views for node in view.topology.nodes if node.suspected} - failed

    # Slots: assigned to a primary, and that primary serving (not flagged fail).
    if free := unassigned(topology):
        count = sum(high - low + 1 for low, high in free)
        found.slots_unassigned = count
        found.findings.append((Status.FAIL, f"{ranges_text(free)} are not assigned to any node ({count} of {SLOTS})"))
    for primary in topology.primaries:
        if primary.id in failed:
            found.findings.append((Status.FAIL, uncovered(primary)))
        else:
            found.slots_served += primary.slot_count
    states = {view.address: view.state for view in views if view.state != "ok"}
    if states and not any(status is Status.FAIL for status, _ in found.findings):
        said = ", ".join(f"{address} says cluster_state:{state}" for address, state in states.items())
        found.findings.append((Status.FAIL, said))

    # Replicas: each serving primary's live replicas against replicas_required.
    for primary in topology.primaries:
        if primary.id in failed:
            continue
        found.primaries += 1
        live = [node for node in topology.replicas_of(primary) if node.id not in failed]
        found.replicas += len(live)
        if not live:
            found.slots_without_replica += primary.slot_count
        if len(live) < replicas_required:
            has = "no replica" if not live else f"only {units.plural(len(live), 'replica')}"
            found.findings.append(
                (
                    Status.WARN,
                    f"primary {primary.address} ({ranges_text(merged(primary.slots))}) has {has}, "
                    f"{replicas_required} required",
                )
            )
    if found.slots_without_replica and replicas_required:
        share = units.percent(found.without_replica_ratio)
        found.findings.append((Status.WARN, f"{share} of the slots have no replica: losing their primary loses them"))

    # Nodes flagged failing (not already named with the slots they lost), and nodes Vigil could not reach.
    owners = {primary.id for primary in topology.primaries}
    for node in topology.nodes:
        flag = "fail" if node.id in failed else "pfail" if node.id in suspected else None
        if flag is None:
            continue
        found.failing.append(node.address)
        if node.id in owners and flag == "fail":
            continue  # said with its slots
        role = "primary" if node.is_primary else "replica"
        reason = f" ({silent[node.address]})" if node.address in silent else ""
        found.findings.append((Status.WARN, f"{role} {node.address} is flagged {flag} by the cluster{reason}"))
    for address, error in silent.items():
        if address not in found.failing:
            found.findings.append((Status.WARN, f"node {address} did not answer Vigil: {error}"))

    # Epochs: every answering node on the same current epoch (a failover propagated everywhere).
    found.epochs = {view.address: epoch for view in views if (epoch := view.current_epoch) is not None}
    if len(set(found.epochs.values())) > 1:
        said = ", ".join(f"{address} says {epoch}" for address, epoch in found.epochs.items())
        found.findings.append((Status.WARN, f"the nodes disagree on the configuration epoch ({said})"))
    return found


def uncovered(primary: ClusterNode) -> str:
    """`slots 5461-10922 have no serving primary (node 127.0.0.1:7002 failed)`."""
    ranges: list[SlotRange] = merged(primary.slots)
    verb = "has" if len(ranges) == 1 and ranges[0][0] == ranges[0][1] else "have"
    return f"{ranges_text(ranges)} {verb} no serving primary (node {primary.address} failed)"


def summary(found: Judgement, nodes: int, replicas_required: int) -> str:
    epoch = next(iter(found.epochs.values()), None)
    replicas = f", {units.plural(found.replicas, 'replica')} (at least {replicas_required} each)"
    return (
        f"cluster_state:ok, all {SLOTS} slots served by {(f'{found.primaries} primaries' if found.primaries != 1 else '1 primary')}"
        f"{replicas}; {units.plural(nodes, 'node')} on configuration epoch {epoch}"
    )
