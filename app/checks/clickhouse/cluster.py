"""The `cluster` check: every host of a cluster in system.clusters answers `SELECT 1`, each over a connection of
its own and within its own deadline (`host_timeout`), so one silent host is named and delays none of the others.
"""

from __future__ import annotations

import time

from app.checks.base import CheckContext
from app.checks.clickhouse import cluster_judge
from app.checks.clickhouse.cluster_config import ClickHouseCluster
from app.checks.clickhouse.config import ClickHouseComponent
from app.checks.clickhouse.hosts import ClusterHost, cluster_hosts, cluster_memo, on_each
from app.checks.clickhouse.query import Context, QueryMemo, run_query
from app.clients.clickhouse import ClickHouseClient
from app.model import Outcome


async def run(ctx: CheckContext[ClickHouseComponent, ClickHouseCluster, ClickHouseClient, QueryMemo]) -> Outcome:
    memo = cluster_memo(ctx)
    hosts = await cluster_hosts(ctx, memo, ctx.options.cluster)

    async def ping(on: Context[ClickHouseCluster], host: ClusterHost) -> float:
        started = time.perf_counter()
        await run_query(on, "SELECT 1", "select1", f"SELECT 1 on {host.address}", ctx.options.host_timeout)
        return time.perf_counter() - started

    answers = await on_each(ctx, memo, hosts, ping, ctx.options.host_timeout)
    before = dict(memo.errors) if memo.errors_column else None
    memo.errors = {host.address: host.errors for host in hosts}
    return cluster_judge.judge(ctx.options, answers, before, [])
