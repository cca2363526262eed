"""The `cluster` check: every node known (seeds and discovered) asked for CLUSTER INFO and CLUSTER NODES at once,
each under its own deadline; the freshest view judged (cluster_judge), nothing written, nothing remembered.
"""

from __future__ import annotations

from typing import Any

from app.checks.base import CheckContext, NoMemo
from app.checks.redis import cluster_judge as judge
from app.checks.redis.cluster_config import RedisClusterState
from app.checks.redis.config import RedisComponent
from app.clients.redis import RedisClient
from app.clients.redis_cluster import RedisClusterClient
from app.clients.redis_errors import Unreachable
from app.clients.redis_topology import Topology
from app.model import Observation, Outcome

NODE_SHARE = 0.9  # of the time left: each node's deadline, so the check answers before its own timeout


async def run(ctx: CheckContext[RedisComponent, RedisClusterState, RedisClusterClient, NoMemo]) -> Outcome:
    client = ctx.client
    deadline = node_deadline(ctx)
    topology = await client.discover(deadline)
    client.check_size(topology)
    addresses = list(dict.fromkeys([*topology.addresses, *client.seeds]))
    answers = await client.each(addresses, cluster_views, deadline)
    views = [view for view in answers.values() if isinstance(view, judge.NodeView)]
    silent = {address: str(answer) for address, answer in answers.items() if not isinstance(answer, judge.NodeView)}
    if not views:
        raise Unreachable(f"no node of the Redis cluster answered: {'; '.join(silent.values())}")
    client.learn(judge.reference(views).topology)
    found = judge.judge(views, silent, ctx.options.replicas_required)
    epochs = set(found.epochs.values())
    observed = [  # the first is /health's observedValue
        Observation("slots_served", found.slots_served),
        Observation("slots_unassigned", found.slots_unassigned),
        Observation("slots_without_replica_ratio", round(found.without_replica_ratio, 4), "ratio"),
        Observation("primaries", found.primaries),
        Observation("replicas", found.replicas),
        Observation("replicas_required", ctx.options.replicas_required),
        Observation("nodes", len(addresses)),
        Observation("nodes_failing", len(found.failing)),
        Observation("nodes_silent", len(silent)),
        Observation("current_epoch", max(epochs) if epochs else None),
    ]
    ok = judge.summary(found, len(addresses), ctx.options.replicas_required)
    return Outcome.from_findings(found.findings, observed, ok=ok)


async def cluster_views(address: str, node: RedisClient) -> judge.NodeView:
    info, nodes = await node.pipeline([("CLUSTER", "INFO"), ("CLUSTER", "NODES")])
    return judge.NodeView(address, judge.parse_info(text(info)), Topology.parse(address, text(nodes)))


def text(reply: Any) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def node_deadline(ctx: CheckContext[Any, Any, Any, Any]) -> float:
    """The loop time by which each node's work must be over: most of the time left, the rest to judge and answer."""
    return ctx.deadline - (1 - NODE_SHARE) * ctx.remaining()
