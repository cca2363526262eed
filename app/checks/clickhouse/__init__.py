"""The `clickhouse` component type: its config, its client's life cycle, its error wording and its check kinds.

Every query runs read-only under safety settings and is cancelled on the server when it outlives its budget;
see the README's Layout section for which module owns what.
"""

from __future__ import annotations

from app.checks.base import CheckKind, ComponentType
from app.checks.clickhouse import (
    cluster,
    connectivity,
    consistency,
    query_performance,
    replication,
    rollup,
    timeseries,
)
from app.checks.clickhouse.cluster_config import ClickHouseCluster, ClickHouseConsistency, ClickHouseReplication
from app.checks.clickhouse.component import close_client, open_client
from app.checks.clickhouse.config import (
    ClickHouseComponent,
    ClickHouseConnectivity,
    ClickHouseQueryPerformance,
    ClickHouseRollup,
    ClickHouseTimeseries,
)
from app.checks.clickhouse.errors import describe_error
from app.checks.clickhouse.hosts import ClusterMemo
from app.checks.clickhouse.query import QueryMemo

CLICKHOUSE = ComponentType(
    config=ClickHouseComponent,
    kinds=(
        CheckKind(ClickHouseConnectivity, connectivity.run, QueryMemo),
        CheckKind(ClickHouseQueryPerformance, query_performance.run, QueryMemo),
        CheckKind(ClickHouseTimeseries, timeseries.run, QueryMemo),
        CheckKind(ClickHouseRollup, rollup.run, QueryMemo),
        CheckKind(ClickHouseReplication, replication.run, QueryMemo),
        CheckKind(ClickHouseCluster, cluster.run, ClusterMemo),
        CheckKind(ClickHouseConsistency, consistency.run, ClusterMemo),
    ),
    open_client=open_client,
    close_client=close_client,
    describe_error=describe_error,
)
