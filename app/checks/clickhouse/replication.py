"""The `replication` check: this server's replicated tables (named, or all of a database), from system.replicas.

One query of what the server knows itself (read-only, session, queue, delay), then, when no table is read-only,
one of the replica counts the server reads from ZooKeeper; Vigil itself never talks to ZooKeeper.
"""

from __future__ import annotations

from app.checks.base import CheckContext
from app.checks.clickhouse import replication_judge as judge
from app.checks.clickhouse import sql
from app.checks.clickhouse.cluster_config import ClickHouseReplication
from app.checks.clickhouse.config import ClickHouseComponent
from app.checks.clickhouse.query import QueryMemo, cost, run_query
from app.checks.clickhouse.replication_judge import ReplicaState
from app.checks.clickhouse.sql import TableRef
from app.clients.clickhouse import ClickHouseClient
from app.clients.clickhouse_errors import ServerError
from app.model import Observation, Outcome

KEEPER_EXCEPTION = 999  # ClickHouse's code for a failed ZooKeeper request (Coordination::Exception)


async def run(ctx: CheckContext[ClickHouseComponent, ClickHouseReplication, ClickHouseClient, QueryMemo]) -> Outcome:
    options = ctx.options
    refs = [TableRef.parse(name, ctx.component.database) for name in options.tables]
    database = options.database or ctx.component.database
    result = await run_query(ctx, sql.replicas_query(refs, database), "replicas", "system.replicas query")
    observed: list[Observation] = cost("replicas", result)
    tables = [ReplicaState.from_row(row) for row in result.rows]
    present = {t.table for t in tables}
    missing = [str(ref) for ref in refs if str(ref) not in present]
    zookeeper_error = None
    if tables and not any(t.readonly or t.session_expired for t in tables):
        found = [TableRef(*t.table.split(".", 1)) for t in tables]
        try:
            counts = await run_query(ctx, sql.replicas_counts_query(found), "counts", "replica count query")
        except ServerError as exc:
            if exc.code != KEEPER_EXCEPTION:
                raise
            zookeeper_error = exc.text  # the server lost ZooKeeper since the first query (it says why)
        else:
            observed += cost("counts", counts)
            by_table = {f"{db}.{tb}": (int(total), int(active)) for db, tb, total, active in counts.rows}
            tables = [t.with_counts(*by_table[t.table]) if t.table in by_table else t for t in tables]
    return judge.judge(options, tables, missing, zookeeper_error, None if refs else database, observed)
