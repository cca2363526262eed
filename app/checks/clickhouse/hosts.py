"""The hosts of a cluster as the component's server lists them in system.clusters, and a check's context on one
of them: the host's own client (a pool of its own) and its own memory of cut-off queries (the overlap guard).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from app.checks.base import CheckContext
from app.checks.clickhouse.judge import DEADLINE_MARGIN
from app.checks.clickhouse.query import Context, NoTimeLeft, OptionsT, PreviousQueryRunning, QueryMemo, run_query
from app.checks.clickhouse.schema import SchemaMismatch
from app.checks.clickhouse.sql import TableRef, clusters_query, has_column_query
from app.clients.clickhouse_errors import ClickHouseError
from app.clients.errors import PoolExhausted

T = TypeVar("T")
# What a host's work may raise that is that host's trouble, worded by the error itself (as errors.describe_error has it).
HOST_ERRORS = (ClickHouseError, PoolExhausted, NoTimeLeft, PreviousQueryRunning, SchemaMismatch)


class ClusterNotFound(Exception):
    """The cluster is not in the server's system.clusters (the sentence names the ones that are)."""


@dataclass(frozen=True, slots=True)
class ClusterHost:
    """One host of a cluster, as `remote_servers` names it."""

    shard: int
    replica: int
    host: str
    port: int
    errors: int = 0  # errors_count, on servers that have it

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def label(self) -> str:
        return f"shard {self.shard} replica {self.replica} ({self.address})"


@dataclass(slots=True)
class ClusterMemo(QueryMemo):
    """A cluster-wide check's memory: the component's own cut-off queries (inherited), each host's, whether the
    server's system.clusters has errors_count, and each host's errors_count at the last run."""

    hosts: dict[str, QueryMemo] = field(default_factory=dict)
    errors_column: bool | None = None
    errors: dict[str, int] = field(default_factory=dict)


def cluster_memo(ctx: Context[OptionsT]) -> ClusterMemo:
    """The memory of a cluster-wide check (its kind's memo factory is ClusterMemo, a QueryMemo for run_query)."""
    assert isinstance(ctx.memo, ClusterMemo)
    return ctx.memo


async def cluster_hosts(ctx: Context[OptionsT], memo: ClusterMemo, cluster: str) -> list[ClusterHost]:
    """The hosts of `cluster`, by shard then replica, read on the component's own server."""
    if memo.errors_column is None:
        column = await run_query(
            ctx, has_column_query(TableRef("system", "clusters"), "errors_count"), "columns", "system.columns query"
        )
        memo.errors_column = bool(column.rows)
    result = await run_query(ctx, clusters_query(memo.errors_column), "clusters", "system.clusters query")
    hosts = [
        ClusterHost(int(shard), int(replica), str(host), int(port), int(errors or 0))
        for name, shard, replica, host, port, errors in result.rows
        if name == cluster
    ]
    if not hosts:
        known = sorted({str(row[0]) for row in result.rows})
        names = ", ".join(known) if known else "none"
        raise ClusterNotFound(f"cluster {cluster} is not in system.clusters on {ctx.client.settings.address} ({names})")
    return hosts


def on_host(
    ctx: Context[OptionsT], memo: ClusterMemo, host: ClusterHost, timeout: float | None = None
) -> Context[OptionsT]:
    """The check's context on `host`: its options, that host's client and overlap guard, and a deadline of its own
    (never past the check's): `timeout` from now, plus the margins a query keeps back, so that a query given that
    `timeout` gets all of it and every query on the host, the overlap guard's included, ends near it."""
    own = memo.hosts.setdefault(host.address, QueryMemo())
    client = ctx.client.peer(host.host, host.port)
    deadline = ctx.deadline
    if timeout is not None:
        deadline = min(deadline, asyncio.get_running_loop().time() + timeout + 2 * DEADLINE_MARGIN)
    return CheckContext(ctx.check_id, ctx.component, ctx.options, ctx.schedule, client, deadline, own)


async def on_each(
    ctx: Context[OptionsT],
    memo: ClusterMemo,
    hosts: Sequence[ClusterHost],
    work: Callable[[Context[OptionsT], ClusterHost], Awaitable[T]],
    timeout: float | None = None,
) -> list[tuple[ClusterHost, T | None, str | None]]:
    """`work` on every host at once, each on its own connection and within its own deadline (`timeout`, inside the
    check's): (host, result, None), or (host, None, the error's sentence) for a host whose work failed (a bug in
    Vigil still raises)."""

    async def one(host: ClusterHost) -> tuple[ClusterHost, T | None, str | None]:
        try:
            return host, await work(on_host(ctx, memo, host, timeout), host), None
        except HOST_ERRORS as exc:
            return host, None, str(exc)

    return list(await asyncio.gather(*(one(host) for host in hosts)))
