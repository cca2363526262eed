"""The `replication` check: a replica's link to its primary, or a primary's replicas and how far behind they are.

One INFO replication per run, nothing written, nothing remembered: every figure it judges is the server's own.
"""

from __future__ import annotations

from app.checks.base import CheckContext, NoMemo
from app.checks.redis import replication_judge as judge
from app.checks.redis.config import RedisComponent, RedisReplication
from app.checks.redis.server import info, is_replica
from app.clients.redis import RedisClient
from app.model import Observation, Outcome


async def run(ctx: CheckContext[RedisComponent, RedisReplication, RedisClient, NoMemo]) -> Outcome:
    (replication,) = await info(ctx.client, "replication")
    # Lag first: it is /health's observedValue (the first observation with a value).
    if is_replica(replication):
        link = judge.PrimaryLink.from_info(replication)
        observed = [
            Observation("replication_lag", link.lag_bytes, "bytes"),
            Observation("primary_last_io", link.last_io, "s"),
            Observation("master_link_up", link.up),
            Observation("sync_in_progress", link.syncing),
            Observation("role", "replica"),
        ]
        findings = judge.link_findings(link, ctx.options)
        return Outcome.from_findings(findings, observed, ok=judge.link_summary(link))

    replicas = judge.Replicas.from_info(replication)
    worst = replicas.most_behind()
    observed = [
        Observation("replication_lag", None if worst is None else replicas.lag_bytes(worst), "bytes"),
        Observation("replica_ack_age", max((link.ack_age or 0 for link in replicas.online), default=None), "s"),
        Observation("replicas_online", len(replicas.online)),
        Observation("replicas_connected", replicas.connected),
        Observation("replicas_required", ctx.options.min_replicas),
        Observation("role", "primary"),
    ]
    findings = judge.replicas_findings(replicas, ctx.options)
    return Outcome.from_findings(findings, observed, ok=judge.replicas_summary(replicas, ctx.options))
