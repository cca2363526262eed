"""The options of the `clickhouse` kinds that look past one server: `replication` (this server's replicated tables),
`cluster` (every host of a cluster answers) and `consistency` (the replicas of each shard agree, bucket by bucket).
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field, model_validator

from app.checks.clickhouse.buckets import Buckets, window_problem
from app.checks.clickhouse.names import Identifier, Measure, TableName, TimeZoneName
from app.config.fields import CheckConfig, Duration, Severity

# Cluster names are XML element names in `remote_servers`: letters, digits, underscores, dashes and dots.
CLUSTER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$")


def _cluster(value: str) -> str:
    if not CLUSTER_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a cluster name (as in remote_servers: letters, digits, _ . -)")
    return value


ClusterName = Annotated[str, AfterValidator(_cluster)]


class ClickHouseReplication(CheckConfig):
    """This server's replicated tables (named, or every one of a database), from system.replicas."""

    kind: Literal["replication"] = "replication"
    tables: list[TableName] = Field(default_factory=list)  # none: every replicated table of `database`
    database: Identifier | None = None  # with no tables: whose replicated tables (default: the component's)
    delay_warn: Duration | None = Field(default=60.0, ge=0.0)  # absolute_delay
    max_delay: Duration | None = Field(default=300.0, ge=0.0)  # absolute_delay: fails here (forecast)
    queue_warn: int | None = Field(default=100, ge=0)  # queue_size
    queue_fail: int | None = Field(default=None, ge=0)
    inserts_warn: int | None = Field(default=20, ge=0)  # inserts_in_queue: parts still to fetch
    inserts_fail: int | None = Field(default=None, ge=0)
    queue_age_warn: Duration | None = Field(default=600.0, ge=0.0)  # now - queue_oldest_time
    queue_age_fail: Duration | None = Field(default=None, ge=0.0)

    @model_validator(mode="after")
    def _one_source(self) -> ClickHouseReplication:
        if self.tables and self.database is not None:
            raise ValueError("set tables or database, not both")
        return self


class ClickHouseCluster(CheckConfig):
    """Every host of a cluster in system.clusters answers `SELECT 1`, each over its own connection and deadline."""

    kind: Literal["cluster"] = "cluster"
    cluster: ClusterName
    host_timeout: Duration | None = Field(default=None, gt=0.0)  # each host's deadline (default: the check's)
    latency_warn: Duration | None = None  # per host
    errors_warn: int | None = Field(default=1, ge=1)  # errors_count growth between runs (servers that have it)


class ClickHouseConsistency(CheckConfig):
    """Per settled bucket of a window, row counts (and a measure) agree between the replicas of each shard."""

    default_severity: ClassVar[Severity] = Severity.DEGRADED
    kind: Literal["consistency"] = "consistency"
    cluster: ClusterName
    table: TableName
    time_column: Identifier
    measure: Measure | None = None  # compared besides the row count, e.g. sum(value)
    bucket: Duration = Field(default=3600.0, ge=1.0)
    lookback: Duration = Field(default=86400.0, gt=0.0)
    settle: Duration = Field(default=3600.0, ge=0.0)  # only buckets that closed at least this long ago
    tolerance: float = Field(default=1e-9, ge=0.0)  # relative, for a non-integer measure
    timezone: TimeZoneName | None = None  # buckets in this zone (default: the column's own, else the server's)

    @model_validator(mode="after")
    def _bounded(self) -> ClickHouseConsistency:
        if problem := window_problem(self.bucket, self.lookback):
            raise ValueError(problem)
        if not Buckets(int(self.bucket)).nests_in_days:
            raise ValueError("bucket must divide a day (15m, 1h, 6h ...) or be whole days")
        return self
