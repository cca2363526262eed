"""The one-server `redis` kinds on a cluster component: each kind's own run on every node it concerns (primaries, or
all nodes), at once, each under its own deadline and with its own memory; the node outcomes combined, worst named.

A kind that remembers per server (pool, memory) remembers per node; session_ttl remembers per shard (its first
slot), so after a failover the new primary is judged against what the old one held, and writes its canaries under
a hash tag that places them on that shard.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from app.checks.base import CheckContext, CheckFn, NoMemo
from app.checks.redis.cluster import node_deadline
from app.checks.redis.config import RedisComponent, RedisMemory
from app.checks.redis.memory import MemoryMemo
from app.checks.redis.node_forecast import NodeSeries
from app.checks.redis.pool import PoolMemo
from app.checks.redis.session_ttl import SessionMemo
from app.clients.redis import RedisClient
from app.clients.redis_cluster import NodeError, RedisClusterClient
from app.clients.redis_topology import ClusterNode, hash_tag, owns, slot_of
from app.model import Observation, Outcome, Status


@dataclass(slots=True)
class NodesNoMemo(NoMemo):
    nodes: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class NodesPoolMemo(PoolMemo):
    nodes: dict[str, Any] = field(default_factory=dict)  # on a cluster: a PoolMemo per node
    series: NodeSeries = field(default_factory=NodeSeries)  # on a cluster: each node's client utilisation


@dataclass(slots=True)
class NodesMemoryMemo(MemoryMemo):
    nodes: dict[str, Any] = field(default_factory=dict)  # on a cluster: a MemoryMemo per node
    series: NodeSeries = field(default_factory=NodeSeries)  # on a cluster: each node's memory utilisation


@dataclass(slots=True)
class NodesSessionMemo(SessionMemo):
    nodes: dict[str, Any] = field(default_factory=dict)  # on a cluster: a SessionMemo per shard


@dataclass(frozen=True, slots=True)
class Spread:
    """How one kind runs on a cluster."""

    memo: Callable[[], Any]  # a node's memory
    nodes: Literal["primaries", "all"]
    rank: str | None  # the observation that ranks nodes of one status (the highest is shown)
    headline: str  # the pass output's start; {n}: how many nodes
    by_shard: bool = False  # memory per shard, canaries under the shard's hash tag
    summed: tuple[str, ...] = ()  # observations added up over the nodes


CONNECTIVITY = Spread(NoMemo, "primaries", "latency", "all {n} primaries answer PING; slowest")
POOL = Spread(PoolMemo, "all", "client_utilisation", "all {n} nodes have connections to spare; busiest")
MEMORY = Spread(MemoryMemo, "all", "memory_utilisation", "all {n} nodes within their memory limits; fullest")
REPLICATION = Spread(NoMemo, "primaries", "replication_lag", "all {n} shards replicate; furthest behind")
SESSIONS = Spread(
    SessionMemo,
    "primaries",
    None,
    "all {n} primaries keep sessions well; first",
    by_shard=True,
    summed=("sessions_sampled", "sessions_no_expiry", "sessions_ttl_over_max", "sessions_ttl_under_min", "scan_calls"),
)


def on_cluster(single: CheckFn, spread: Spread) -> CheckFn:
    """The kind's run: as it is on one server, spread over the nodes on a cluster."""

    async def run(ctx: CheckContext[Any, Any, Any, Any]) -> Outcome:
        if isinstance(ctx.client, RedisClusterClient):
            return await spread_run(ctx, single, spread)
        return await single(ctx)

    return run


async def spread_run(ctx: CheckContext[Any, Any, RedisClusterClient, Any], single: CheckFn, spread: Spread) -> Outcome:
    client, deadline = ctx.client, node_deadline(ctx)
    topology = await client.discover(deadline)
    client.check_size(topology)
    # A node the cluster flags failed and that serves no slot has nothing to measure: the `cluster` check names it.
    targets = (
        topology.primaries if spread.nodes == "primaries" else [n for n in topology.nodes if n.slots or not n.failed]
    )
    contexts = {node.address: node_context(ctx, node, spread, deadline) for node in targets}
    kept = {id(node_ctx.memo) for node_ctx in contexts.values()}
    for key in [key for key, memo in ctx.memo.nodes.items() if id(memo) not in kept]:  # nodes that left
        del ctx.memo.nodes[key]

    async def work(address: str, node: RedisClient) -> Outcome:
        node_ctx = contexts[address]
        node_ctx.client = node
        return await single(node_ctx)

    answers = await client.each(list(contexts), work, deadline)
    combined = combine(answers, spread)
    series = getattr(ctx.memo, "series", None)
    if not isinstance(series, NodeSeries):
        return combined
    outcomes = {address: answer for address, answer in answers.items() if isinstance(answer, Outcome)}
    shown = next((str(o.value) for o in combined.observed if o.name == "node"), None)
    early = series.forecasts(outcomes, shown, ctx.options, ctx.schedule, asyncio.get_running_loop().time())
    if not early:
        return combined
    status = Status.WARN if combined.status is Status.PASS else combined.status
    return replace(combined, status=status, output=f"{early[0][1]}; {combined.output}")


def node_context(
    ctx: CheckContext[RedisComponent, Any, Any, Any], node: ClusterNode, spread: Spread, deadline: float
) -> CheckContext[Any, Any, Any, Any]:
    """The one-server context of one node: its own memory, and what of the component and options concern it."""
    key = f"slots from {node.slots[0][0]}" if spread.by_shard and node.slots else node.address
    memo = ctx.memo.nodes.setdefault(key, spread.memo())
    component, options = ctx.component, ctx.options
    if spread.by_shard and node.slots and (tag := hash_tag(node.slots)) is not None:
        component = component.model_copy(update={"key_prefix": f"{component.key_prefix}{tag}:"})
    if isinstance(options, RedisMemory) and options.priority_keys:  # exact keys, on the primary that owns them
        slots = node.slots if node.is_primary else ()
        mine = tuple(key for key in options.priority_keys if owns(slots, slot_of(key)))
        options = options.model_copy(update={"priority_keys": mine})
    return CheckContext(ctx.check_id, component, options, ctx.schedule, None, deadline, memo)


def combine(answers: dict[str, Outcome | NodeError], spread: Spread) -> Outcome:
    """The worst status; the output names each node that is not fine (errors name theirs already); the
    observations are the node shown's (the worst, or the highest `rank`), with `summed` ones over all nodes."""
    outcomes = {address: answer for address, answer in answers.items() if isinstance(answer, Outcome)}
    errors = [str(answer) for answer in answers.values() if not isinstance(answer, Outcome)]
    order = (Status.PASS, Status.WARN, Status.FAIL)

    def weight(item: tuple[str, Outcome]) -> tuple[int, float]:
        value = next((o.value for o in item[1].observed if o.name == spread.rank), None)
        number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
        return order.index(item[1].status), number

    ranked = sorted(outcomes.items(), key=weight)
    status = Status.FAIL if errors else Status.PASS
    for outcome in outcomes.values():
        status = status.worst(outcome.status)
    problems = [*errors]
    for wanted in (Status.FAIL, Status.WARN):  # nodes that say the same are named together
        said: dict[str, list[str]] = {}
        for address, o in outcomes.items():
            if o.status is wanted:
                said.setdefault(o.output, []).append(address)
        problems += [f"{', '.join(addresses)}: {output}" for output, addresses in said.items()]
    observed: list[Observation] = []
    shown = ranked[-1] if ranked and spread.rank is not None else ranked[0] if ranked else None
    if shown is not None:
        totals = {name: sum(_number(o, name) for o in outcomes.values()) for name in spread.summed}
        observed = [Observation(o.name, totals.get(o.name, o.value), o.unit, o.limit) for o in shown[1].observed]
        observed.append(Observation("node", shown[0]))
    observed.append(Observation("nodes", len(answers)))
    if problems:
        output = "; ".join(problems)
    elif shown is not None:
        output = f"{spread.headline.format(n=len(answers))} {shown[0]}: {shown[1].output}"
    else:
        status, output = Status.FAIL, "the cluster has no primary serving slots"
    latches = [f"{address}: {o.latch}" for address, o in outcomes.items() if o.latch]
    return Outcome(status, output, tuple(observed), "; ".join(latches) or None)


def _number(outcome: Outcome, name: str) -> float:
    value = next((o.value for o in outcome.observed if o.name == name), None)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else 0
