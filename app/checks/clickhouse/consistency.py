"""The `consistency` check: the replicas of each shard of a cluster agree on a table's settled time buckets.

The schema and the server's clock are read on the component's server; then every host of the cluster runs the same
bounded, read-only bucket query (row count, and a measure) over its own connection, at once; `consistency_judge`
compares the replicas of each shard.
"""

from __future__ import annotations

from app.checks.base import CheckContext
from app.checks.clickhouse import consistency_judge, sql
from app.checks.clickhouse.buckets import Buckets
from app.checks.clickhouse.chain import Rows
from app.checks.clickhouse.cluster_config import ClickHouseConsistency
from app.checks.clickhouse.config import ClickHouseComponent
from app.checks.clickhouse.consistency_judge import Span
from app.checks.clickhouse.hosts import ClusterHost, cluster_hosts, cluster_memo, on_each
from app.checks.clickhouse.names import parse_measure
from app.checks.clickhouse.query import Context, QueryMemo, run_query
from app.checks.clickhouse.schema import SchemaMismatch, bucketing_zone, describe_tables
from app.checks.clickhouse.sql import TableRef
from app.clients.clickhouse import ClickHouseClient
from app.model import Outcome


async def run(ctx: CheckContext[ClickHouseComponent, ClickHouseConsistency, ClickHouseClient, QueryMemo]) -> Outcome:
    options = ctx.options
    memo = cluster_memo(ctx)
    ref = TableRef.parse(options.table, ctx.component.database)
    hosts = await cluster_hosts(ctx, memo, options.cluster)
    measures = ["count()"] + ([options.measure] if options.measure else [])
    columns = [column for m in measures if (column := parse_measure(m)[1]) is not None]
    tables = await describe_tables(ctx, [(ref, options.time_column, columns)])
    tc = tables.columns[(ref, options.time_column)]
    grid = Buckets(int(options.bucket), bucketing_zone(options.timezone, [tc], tables.timezone))
    if tc.is_date and grid.size % 86400:
        raise SchemaMismatch(f"column {ref}.{tc.name} is a Date: bucket must be whole days")
    span = Span.at(tables.now, options, grid)
    query = sql.level_query(ref, tc, grid, measures, span.start, span.end)

    async def read(on: Context[ClickHouseConsistency], host: ClusterHost) -> Rows:
        result = await run_query(on, query, "buckets", f"bucket query on {ref} at {host.address}")
        return {int(row[0]): tuple(row[1:]) for row in result.rows}

    reads = await on_each(ctx, memo, hosts, read)
    return consistency_judge.judge(options, span, reads, [])
