"""The `clickhouse` component's configuration: the component and its check kinds (the cluster kinds' options are in
`cluster_config`, the names they all accept in `names`, validated once so that the SQL built from them is safe).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from app.checks.clickhouse.buckets import MAX_BUCKETS, Buckets, window_problem
from app.checks.clickhouse.cluster_config import ClickHouseCluster, ClickHouseConsistency, ClickHouseReplication
from app.checks.clickhouse.names import Identifier, Measure, MeasureName, TableName, TimeZoneName
from app.config.fields import Area, CheckConfig, ComponentConfig, Duration, Frozen, Schedule, Severity
from app.units import span


class ClickHouseConnectivity(CheckConfig):
    """`SELECT 1` over the native protocol, server version and uptime."""

    kind: Literal["connectivity"] = "connectivity"
    latency_warn: Duration | None = None


class SlaQuery(Frozen):
    """One named query and its latency SLA. A bare string is shorthand for `{sql: ...}`."""

    sql: str = Field(min_length=1)
    sla: Duration = Field(default=5.0, gt=0.0)
    timeout: Duration | None = Field(default=None, gt=0.0)  # cancel after this long (default: the check's deadline)

    @model_validator(mode="before")
    @classmethod
    def _bare_sql(cls, data: Any) -> Any:
        return {"sql": data} if isinstance(data, str) else data

    @field_validator("sql")
    @classmethod
    def _one_statement(cls, sql: str) -> str:
        sql = sql.strip().rstrip(";").strip()
        if not sql:
            raise ValueError("empty query")
        return sql


class ClickHouseQueryPerformance(CheckConfig):
    """Named queries (a dashboard's heaviest) run in turn, each timed against its SLA, under the safety settings."""

    default_area: ClassVar[Area | None] = Area.PERFORMANCE
    kind: Literal["query_performance"] = "query_performance"
    queries: dict[MeasureName, SlaQuery] = Field(min_length=1)
    warn_fraction: float = Field(default=0.8, gt=0.0, le=1.0)  # warn at this fraction of a query's SLA

    def schedule_problems(self, schedule: Schedule) -> list[tuple[str, str]]:
        # A query is cancelled at the check's deadline: with a deadline before its SLA, a query that would have
        # met the SLA is reported as failed. (A query's own `timeout` is the user's explicit, tighter bound.)
        bounded_by_check = [q.sla for q in self.queries.values() if q.timeout is None]
        if bounded_by_check and schedule.timeout < max(bounded_by_check):
            return [
                (
                    "timeout",
                    f"{span(schedule.timeout)} is shorter than a query SLA ({span(max(bounded_by_check))}); "
                    "raise the check's timeout or give the query its own timeout",
                )
            ]
        return []


class ClickHouseTimeseries(CheckConfig):
    """One time-series table: freshness, future rows, impossible past, gaps and duplicates, inside a window."""

    default_severity: ClassVar[Severity] = Severity.DEGRADED
    kind: Literal["timeseries"] = "timeseries"
    table: TableName
    time_column: Identifier  # DateTime or Date
    keys: list[Identifier] = Field(default_factory=list)  # duplicates are looked for on these columns (none: skipped)
    lookback: Duration = Field(default=86400.0, gt=0.0)
    bucket: Duration = Field(default=3600.0, ge=1.0)  # gap detection: every closed bucket in the window needs rows
    min_bucket_rows: int = Field(default=1, ge=0)  # a bucket with fewer rows is a gap (0: gap detection off)
    max_lag: Duration = Field(default=3600.0, gt=0.0)  # freshness: now - newest row
    clock_skew: Duration = Field(default=300.0, ge=0.0)  # rows up to now + this are not "in the future"
    floor: datetime = datetime(2000, 1, 1, tzinfo=UTC)  # rows before this are impossible (1970 zero dates)
    max_duplicates: int = Field(default=0, ge=0)  # extra rows on the key columns tolerated in the window
    timezone: TimeZoneName | None = None  # buckets in this zone (default: the column's own zone, else the server's)

    @field_validator("floor")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

    @model_validator(mode="after")
    def _bounded(self) -> ClickHouseTimeseries:
        if problem := window_problem(self.bucket, self.lookback):
            raise ValueError(problem)
        return self


class RollupLevel(Frozen):
    """One level of a rollup chain: a table, its time column, its bucket, and the measures to compare."""

    name: MeasureName
    table: TableName
    time_column: Identifier
    bucket: Duration | None = Field(default=None, ge=1.0)  # required above the first (raw) level
    measures: dict[MeasureName, Measure] = Field(min_length=1)  # e.g. {count: "count()"} raw, {count: "sum(events)"}


class ClickHouseRollup(CheckConfig):
    """A chain of levels (raw -> hourly -> daily): every closed bucket of a level must agree with the level below."""

    default_severity: ClassVar[Severity] = Severity.DEGRADED
    kind: Literal["rollup"] = "rollup"
    levels: list[RollupLevel] = Field(min_length=2)
    lookback: Duration = Field(default=3 * 86400.0, gt=0.0)
    settle: Duration = Field(default=3600.0, ge=0.0)  # only buckets that closed at least this long ago
    tolerance: float = Field(default=1e-9, ge=0.0)  # relative, for non-integer measures (integers must match exactly)
    timezone: TimeZoneName | None = None  # buckets in this zone (default: the first zone a level's column declares,
    # else the server's)

    @model_validator(mode="after")
    def _chain(self) -> ClickHouseRollup:
        names = [level.name for level in self.levels]
        if len(set(names)) != len(names):
            raise ValueError("level names must be unique")
        measures = set(self.levels[0].measures)
        for level in self.levels[1:]:
            if set(level.measures) != measures:
                raise ValueError(f"level {level.name} must define the same measures as {self.levels[0].name}")
            if level.bucket is None:
                raise ValueError(f"level {level.name}: bucket is required above the first level")
        previous = None
        for index, level in enumerate(self.levels):
            grouping = self._grouping(index)
            if grouping != int(grouping):
                raise ValueError(f"level {level.name}: bucket must be a whole number of seconds")
            if previous is not None and grouping % previous:
                raise ValueError(f"level {level.name}: bucket must be a multiple of the level below's")
            if self.lookback / grouping > MAX_BUCKETS:
                raise ValueError(f"level {level.name}: lookback / bucket must be at most {MAX_BUCKETS}")
            previous = grouping
        if self.lookback < (self.levels[-1].bucket or 0):
            raise ValueError("lookback must cover at least one bucket of the top level")
        for index, level in enumerate(self.levels):
            if not Buckets(self.grouping(index)).nests_in_days:  # else a bucket could straddle two local days
                raise ValueError(f"level {level.name}: bucket must divide a day (15m, 1h, 6h ...) or be whole days")
        return self

    def _grouping(self, index: int) -> float:
        bucket = self.levels[index].bucket
        if bucket is None:  # only the first (raw) level may omit it: validated above
            bucket = self.levels[index + 1].bucket
        assert bucket is not None
        return bucket

    def grouping(self, index: int) -> int:
        """The bucket level `index` is grouped by, in seconds: its own, or for a raw level without one, the next's."""
        return int(self._grouping(index))


ClickHouseCheck = Annotated[
    ClickHouseConnectivity
    | ClickHouseQueryPerformance
    | ClickHouseTimeseries
    | ClickHouseRollup
    | ClickHouseReplication
    | ClickHouseCluster
    | ClickHouseConsistency,
    Field(discriminator="kind"),
]


class ClickHouseComponent(ComponentConfig):
    secret_fields: ClassVar[tuple[str, ...]] = ("password",)
    default_area: ClassVar[Area] = Area.DATABASE  # every check but query_performance: database connectivity and data
    timeout_chain: ClassVar[tuple[tuple[str, str | None, float], ...]] = (
        ("socket_timeout", None, 0.8),  # a read waits on a running query: keep most of the check's time for it
        ("connect_timeout", None, 0.5),
        ("pool_timeout", "connect_timeout", 0.5),
    )

    type: Literal["clickhouse"]
    host: str = "127.0.0.1"
    port: int = Field(default=9000, ge=1, le=65535)  # native protocol
    user: str = "default"
    password: SecretStr | None = None
    database: str = "default"
    secure: bool = False
    max_connections: int = Field(default=4, ge=1, le=100)
    pool_timeout: Duration = 0.5
    connect_timeout: Duration = 1.0  # TCP connect and handshake; also the ping before a pooled connection is reused
    socket_timeout: Duration = 3.0  # per network read; queries are also bounded by max_execution_time
    max_memory_usage: int = Field(default=2_000_000_000, ge=0)  # bytes per query (0 = server default)
    max_result_rows: int = Field(default=100_000, ge=0)
    max_result_bytes: int = Field(default=16_777_216, ge=0)  # per query, uncompressed; past it the server refuses
    checks: dict[str, ClickHouseCheck] = Field(default_factory=lambda: _default_checks())

    @property
    def socket_deadline(self) -> float:
        return max(self.connect_timeout, self.socket_timeout)


def _default_checks() -> dict[str, Any]:
    return {"connectivity": ClickHouseConnectivity()}
