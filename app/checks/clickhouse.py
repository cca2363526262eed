"""The `clickhouse` component type: its config and its checks (connectivity, query_performance, timeseries, rollup).

Every query runs with safety settings (readonly, execution time, memory and result caps) and is cancelled on the
server when it outlives its budget; identifiers from config are validated before they reach SQL.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from asynch.errors import ServerException
from pydantic import AfterValidator, Field, SecretStr, field_validator, model_validator

from app.checks.base import CheckContext, CheckKind, ComponentType
from app.clients.clickhouse import (
    ClickHouseClient,
    ClickHouseSettings,
    NoAnswer,
    PoolExhausted,
    QueryResult,
    QueryTimeout,
    quote,
    server_error_text,
)
from app.model import Observation, Outcome, Status
from app.schema import CheckConfig, ComponentConfig, Duration, Frozen, Schedule, Severity

READONLY_ERROR = 164  # ClickHouse's READONLY error code: the server refused a write under readonly=1
DEADLINE_MARGIN = 0.1  # seconds kept back from the check's deadline so a timed-out query is reported by name
MAX_BUCKETS = 10_000  # per query: lookback / bucket, so results stay far below max_result_rows

_IDENT = r"[A-Za-z_][A-Za-z0-9_]{0,127}"
IDENTIFIER = re.compile(rf"^{_IDENT}$")
TABLE = re.compile(rf"^(?:({_IDENT})\.)?({_IDENT})$")
NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")  # query, level and measure names: they become observation names
MEASURE = re.compile(rf"^\s*(?:(count)\(\s*\)|(sum|min|max)\(\s*({_IDENT})\s*\))\s*$")


def _identifier(value: str) -> str:
    if not IDENTIFIER.match(value):
        raise ValueError(f"{value!r} is not a plain identifier (letters, digits, underscore; not starting with a digit)")
    return value


def _table(value: str) -> str:
    if not TABLE.match(value):
        raise ValueError(f"{value!r} is not a table name (`table` or `database.table`, plain identifiers)")
    return value


def _measure(value: str) -> str:
    match = MEASURE.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a measure; use count(), sum(column), min(column) or max(column)")
    return "count()" if match.group(1) else f"{match.group(2)}({match.group(3)})"


def _name(value: str) -> str:
    if not NAME.match(value):
        raise ValueError(f"{value!r}: names must match {NAME.pattern}")
    return value


Identifier = Annotated[str, AfterValidator(_identifier)]
TableName = Annotated[str, AfterValidator(_table)]
Measure = Annotated[str, AfterValidator(_measure)]
Name = Annotated[str, AfterValidator(_name)]


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

    kind: Literal["query_performance"] = "query_performance"
    queries: dict[Name, SlaQuery] = Field(min_length=1)
    warn_fraction: float = Field(default=0.8, gt=0.0, le=1.0)  # warn above this fraction of a query's SLA

    def schedule_problems(self, schedule: Schedule) -> list[tuple[str, str]]:
        # A query is cancelled at the check's deadline: with a deadline before its SLA, a query that would have
        # met the SLA is reported as failed. (A query's own `timeout` is the user's explicit, tighter bound.)
        bounded_by_check = [q.sla for q in self.queries.values() if q.timeout is None]
        if bounded_by_check and schedule.timeout < max(bounded_by_check):
            return [(
                "timeout",
                f"{schedule.timeout:g}s is shorter than a query SLA ({max(bounded_by_check):g}s); "
                "raise the check's timeout or give the query its own timeout",
            )]
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

    @field_validator("floor")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

    @model_validator(mode="after")
    def _bounded(self) -> ClickHouseTimeseries:
        if self.bucket != int(self.bucket):
            raise ValueError("bucket must be a whole number of seconds")
        if self.lookback < self.bucket:
            raise ValueError("lookback must be at least one bucket")
        if self.lookback / self.bucket > MAX_BUCKETS:
            raise ValueError(f"lookback / bucket must be at most {MAX_BUCKETS} buckets")
        return self


class RollupLevel(Frozen):
    """One level of a rollup chain: a table, its time column, its bucket, and the measures to compare."""

    name: Name
    table: TableName
    time_column: Identifier
    bucket: Duration | None = Field(default=None, ge=1.0)  # required above the first (raw) level
    measures: dict[Name, Measure] = Field(min_length=1)  # e.g. {count: "count()"} raw, {count: "sum(events)"} above


class ClickHouseRollup(CheckConfig):
    """A chain of levels (raw -> hourly -> daily): every closed bucket of a level must agree with the level below."""

    default_severity: ClassVar[Severity] = Severity.DEGRADED
    kind: Literal["rollup"] = "rollup"
    levels: list[RollupLevel] = Field(min_length=2)
    lookback: Duration = Field(default=3 * 86400.0, gt=0.0)
    settle: Duration = Field(default=3600.0, ge=0.0)  # only buckets that closed at least this long ago
    tolerance: float = Field(default=1e-9, ge=0.0)  # relative, for non-integer measures (integers must match exactly)

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
            grouping = _grouping(self.levels, index)
            if grouping != int(grouping):
                raise ValueError(f"level {level.name}: bucket must be a whole number of seconds")
            if previous is not None and grouping % previous:
                raise ValueError(f"level {level.name}: bucket must be a multiple of the level below's")
            if self.lookback / grouping > MAX_BUCKETS:
                raise ValueError(f"level {level.name}: lookback / bucket must be at most {MAX_BUCKETS}")
            previous = grouping
        if self.lookback < (self.levels[-1].bucket or 0):
            raise ValueError("lookback must cover at least one bucket of the top level")
        return self


def _grouping(levels: list[RollupLevel], index: int) -> float:
    """The bucket a level is grouped by: its own, or for a raw level without one, the next level's."""
    bucket = levels[index].bucket
    if bucket is None:
        bucket = levels[index + 1].bucket
    assert bucket is not None
    return bucket


ClickHouseCheck = Annotated[
    ClickHouseConnectivity | ClickHouseQueryPerformance | ClickHouseTimeseries | ClickHouseRollup,
    Field(discriminator="kind"),
]


class ClickHouseComponent(ComponentConfig):
    secret_fields: ClassVar[tuple[str, ...]] = ("password",)

    type: Literal["clickhouse"]
    host: str = "127.0.0.1"
    port: int = Field(default=9000, ge=1, le=65535)  # native protocol
    user: str = "default"
    password: SecretStr | None = None
    database: str = "default"
    secure: bool = False
    max_connections: int = Field(default=4, ge=1, le=100)
    pool_timeout: Duration = 0.5
    connect_timeout: Duration = 1.0
    socket_timeout: Duration = 3.0  # per network read; queries are also bounded by max_execution_time
    max_memory_usage: int = Field(default=2_000_000_000, ge=0)  # bytes per query (0 = server default)
    max_result_rows: int = Field(default=100_000, ge=0)
    checks: dict[str, ClickHouseCheck] = Field(default_factory=lambda: _default_checks())

    @property
    def socket_deadline(self) -> float:
        return max(self.connect_timeout, self.socket_timeout)


def _default_checks() -> dict[str, Any]:
    return {"connectivity": ClickHouseConnectivity()}


def open_client(component: ClickHouseComponent) -> ClickHouseClient:
    return ClickHouseClient(
        ClickHouseSettings(
            host=component.host,
            port=component.port,
            user=component.user,
            password=component.password.get_secret_value() if component.password else "",
            database=component.database,
            secure=component.secure,
            max_connections=component.max_connections,
            pool_timeout=component.pool_timeout,
            connect_timeout=component.connect_timeout,
            socket_timeout=component.socket_timeout,
        )
    )


async def close_client(client: ClickHouseClient) -> None:
    await client.close()


def safety_settings(ctx: CheckContext[Any, Any, ClickHouseClient, Any], budget: float | None = None) -> dict[str, Any]:
    """Settings every Vigil query runs under: read-only and bounded by the time left in the run.

    max_execution_time is whole seconds, rounded up and one more: the server's own backstop sits just past
    Vigil's deadline, so the normal path is Vigil cancelling the query, which names it in the output.
    """
    component: ClickHouseComponent = ctx.component
    seconds = ctx.remaining() if budget is None else budget
    settings: dict[str, Any] = {
        "readonly": 1,
        "max_execution_time": math.ceil(seconds) + 1,
        "max_result_rows": component.max_result_rows,
    }
    if component.max_memory_usage:
        settings["max_memory_usage"] = component.max_memory_usage
    return settings


async def run_query(
    ctx: CheckContext[Any, Any, ClickHouseClient, Any], sql: str, step: str, label: str, limit: float | None = None
) -> QueryResult:
    """One query under the safety settings, budgeted to the time left (and `limit`), cancelled when it runs out."""
    budget = ctx.remaining() - DEADLINE_MARGIN
    if limit is not None:
        budget = min(budget, limit)
    if budget <= 0:
        raise QueryTimeout(label, "", 0.0, 0.0)
    query_id = f"vigil:{ctx.check_id}:{step}:{uuid.uuid4().hex[:12]}"
    return await ctx.client.execute(sql, safety_settings(ctx, budget), timeout=budget, label=label, query_id=query_id)


def query_observations(prefix: str, result: QueryResult) -> list[Observation]:
    return [
        Observation(f"{prefix}_latency", round(result.elapsed, 6), "s"),
        Observation(f"{prefix}_read_rows", result.read_rows, "rows"),
        Observation(f"{prefix}_read_bytes", result.read_bytes, "bytes"),
    ]


# -- wording ----------------------------------------------------------------------------------------


def fmt_seconds(seconds: float) -> str:
    """A latency: `310 ms`, `6.2 s`."""
    if seconds < 1:
        return f"{seconds * 1000:.3g} ms"
    return f"{seconds:.3g} s"


def fmt_span(seconds: float) -> str:
    """A configured window: `24h`, `72h`, `14d`, `5m`, `90s`."""
    whole = int(seconds)
    if whole != seconds:
        return f"{seconds:g}s"
    if whole >= 7 * 86400 and whole % 86400 == 0:
        return f"{whole // 86400}d"
    if whole >= 3600 and whole % 3600 == 0:
        return f"{whole // 3600}h"
    if whole >= 60 and whole % 60 == 0:
        return f"{whole // 60}m"
    return f"{whole}s"


def fmt_age(seconds: float) -> str:
    """An age: `35 s`, `12 min`, `3.1 h`, `2.0 d`."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def fmt_time(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def fmt_bucket(epoch: int, bucket: float) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    if bucket % 86400 == 0:
        return moment.strftime("%Y-%m-%d")
    if bucket % 60 == 0:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def fmt_value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


# -- schema and time columns ------------------------------------------------------------------------


class SchemaMismatch(Exception):
    """The configured table or column does not exist or has an unsupported type."""


@dataclass(frozen=True, slots=True)
class TableRef:
    database: str
    table: str

    @classmethod
    def parse(cls, name: str, default_database: str) -> TableRef:
        match = TABLE.match(name)
        assert match is not None  # validated with the config
        return cls(match.group(1) or default_database, match.group(2))

    @property
    def sql(self) -> str:
        return f"`{self.database}`.`{self.table}`"

    def __str__(self) -> str:
        return f"{self.database}.{self.table}"


@dataclass(frozen=True, slots=True)
class TimeColumn:
    """A DateTime or Date column, as SQL: its value in epoch seconds and range predicates that keep index use."""

    name: str
    is_date: bool

    @property
    def sql(self) -> str:
        return f"`{self.name}`"

    @property
    def seconds(self) -> str:
        return f"(toUInt32({self.sql}) * 86400)" if self.is_date else f"toUInt32({self.sql})"

    def literal(self, epoch: int) -> str:
        if self.is_date:
            return f"toDate({quote(datetime.fromtimestamp(epoch, UTC).strftime('%Y-%m-%d'))})"
        return f"toDateTime({max(0, int(epoch))})"

    def between(self, start: int, end: int) -> str:
        """start <= t < end."""
        return f"{self.sql} >= {self.literal(start)} AND {self.sql} < {self.literal(end)}"


async def describe_tables(
    ctx: CheckContext[Any, Any, ClickHouseClient, Any], wanted: list[tuple[TableRef, str, list[str]]]
) -> tuple[int, dict[tuple[TableRef, str], TimeColumn]]:
    """The server's clock and, for each (table, time column, other columns), the time column's type.

    One small query on system.columns; a missing table or column is a SchemaMismatch that names it.
    """
    databases = sorted({ref.database for ref, _, _ in wanted})
    tables = sorted({ref.table for ref, _, _ in wanted})
    sql = (
        "SELECT toUInt32(now()), database, table, name, type FROM system.columns "
        f"WHERE database IN ({', '.join(map(quote, databases))}) AND table IN ({', '.join(map(quote, tables))})"
    )
    result = await run_query(ctx, sql, "schema", "schema query on system.columns")
    if not result.rows:
        raise SchemaMismatch(f"table {wanted[0][0]} not found")
    now = int(result.rows[0][0])
    columns = {(str(db), str(tb), str(name)): str(ctype) for _, db, tb, name, ctype in result.rows}
    known_tables = {(db, tb) for db, tb, _ in columns}
    found: dict[tuple[TableRef, str], TimeColumn] = {}
    for ref, time_column, others in wanted:
        if (ref.database, ref.table) not in known_tables:
            raise SchemaMismatch(f"table {ref} not found")
        for column in [time_column, *others]:
            if (ref.database, ref.table, column) not in columns:
                raise SchemaMismatch(f"table {ref} has no column {column}")
        ctype = columns[(ref.database, ref.table, time_column)]
        base = ctype.removeprefix("Nullable(").removesuffix(")")
        if base.startswith("DateTime"):
            found[(ref, time_column)] = TimeColumn(time_column, is_date=False)
        elif base == "Date":
            found[(ref, time_column)] = TimeColumn(time_column, is_date=True)
        else:
            raise SchemaMismatch(f"column {ref}.{time_column} is {ctype}, expected DateTime or Date")
    return now, found


# -- connectivity -----------------------------------------------------------------------------------


async def connectivity(ctx: CheckContext[Any, Any, ClickHouseClient, Any]) -> Outcome:
    options: ClickHouseConnectivity = ctx.options
    started = time.perf_counter()
    result = await run_query(ctx, "SELECT 1, version(), uptime()", "select1", "SELECT 1")
    rtt = time.perf_counter() - started
    one, version, uptime = result.rows[0]
    if one != 1:
        return Outcome(Status.FAIL, f"SELECT 1 returned {one!r}")
    observed = (
        Observation("latency", round(rtt, 6), "s"),
        Observation("server_version", str(version)),
        Observation("uptime", int(uptime), "s"),
    )
    if options.latency_warn is not None and rtt > options.latency_warn:
        return Outcome(
            Status.WARN, f"SELECT 1 took {rtt * 1000:.1f} ms (budget {options.latency_warn * 1000:.0f} ms)", observed
        )
    return Outcome(Status.PASS, f"SELECT 1 in {rtt * 1000:.1f} ms from ClickHouse {version}", observed)


# -- query_performance ------------------------------------------------------------------------------


async def query_performance(ctx: CheckContext[Any, Any, ClickHouseClient, Any]) -> Outcome:
    """Each configured query in turn: fail above its SLA, on error, or when cancelled; warn above warn_fraction."""
    options: ClickHouseQueryPerformance = ctx.options
    findings: list[tuple[Status, str]] = []
    observed: list[Observation] = []
    timings: list[str] = []
    for name, query in options.queries.items():
        if ctx.remaining() <= DEADLINE_MARGIN:
            findings.append((Status.FAIL, f"query {name} not run: no time left before the check's deadline"))
            continue
        own_timeout = query.timeout is not None and query.timeout < ctx.remaining() - DEADLINE_MARGIN
        try:
            result = await run_query(ctx, query.sql, name, f"query {name}", limit=query.timeout)
        except QueryTimeout as exc:
            observed.append(Observation(f"{name}_latency", round(exc.elapsed, 6), "s"))
            when = (
                f"at its {fmt_seconds(exc.budget)} timeout"
                if own_timeout
                else f"at the check's deadline after {fmt_seconds(exc.elapsed)}"
            )
            findings.append((Status.FAIL, f"query {name} cancelled {when}, SLA {fmt_seconds(query.sla)}"))
            continue
        except ServerException as exc:
            verb = "refused by the server" if exc.code == READONLY_ERROR else "failed"
            findings.append((Status.FAIL, f"query {name} {verb}: {server_error_text(exc)} (code {exc.code})"))
            continue
        observed.extend(query_observations(name, result))
        took = fmt_seconds(result.elapsed)
        if result.elapsed > query.sla:
            findings.append((Status.FAIL, f"query {name} took {took}, SLA {fmt_seconds(query.sla)}"))
        elif result.elapsed > options.warn_fraction * query.sla:
            share = 100 * result.elapsed / query.sla
            findings.append((Status.WARN, f"query {name} took {took}, {share:.0f}% of its {fmt_seconds(query.sla)} SLA"))
        else:
            findings.append((Status.PASS, ""))
        timings.append(f"{name} {took} of {fmt_seconds(query.sla)}")
    count = len(options.queries)
    ok = f"{count} {'query' if count == 1 else 'queries'} within SLA: {', '.join(timings)}"
    return Outcome.from_findings(findings, observed, ok=ok)


# -- timeseries -------------------------------------------------------------------------------------


async def timeseries(ctx: CheckContext[Any, Any, ClickHouseClient, Any]) -> Outcome:
    """Freshness, future rows, impossible past, gaps and duplicates of one table, bounded to the lookback window.

    The out-of-window probes (future, before the floor) are range predicates on the time column, which the
    primary key and partition pruning answer cheaply when the time column leads the sorting key.
    """
    options: ClickHouseTimeseries = ctx.options
    component: ClickHouseComponent = ctx.component
    ref = TableRef.parse(options.table, component.database)
    now, columns = await describe_tables(ctx, [(ref, options.time_column, list(options.keys))])
    tc = columns[(ref, options.time_column)]
    lookback, bucket = int(options.lookback), int(options.bucket)
    if tc.is_date and bucket % 86400:
        raise SchemaMismatch(f"column {ref}.{tc.name} is a Date: bucket must be whole days")
    future = now + int(options.clock_skew)
    floor = int(options.floor.timestamp())
    window = now - lookback
    findings: list[tuple[Status, str]] = []
    observed: list[Observation] = []

    in_window = f"{tc.seconds} >= {window} AND {tc.seconds} <= {future}"
    stats_sql = (
        f"SELECT countIf({tc.seconds} > {future}), maxIf({tc.seconds}, {tc.seconds} > {future}), "
        f"countIf({tc.seconds} < {floor}), minIf({tc.seconds}, {tc.seconds} < {floor}), "
        f"countIf({in_window}), maxIf({tc.seconds}, {in_window}) "
        f"FROM {ref.sql} WHERE {tc.sql} > {tc.literal(future)} OR {tc.sql} < {tc.literal(floor)} "
        f"OR {tc.sql} >= {tc.literal(window)}"
    )
    stats = await run_query(ctx, stats_sql, "stats", f"timeseries stats query on {ref}")
    observed.extend(query_observations("stats", stats))
    future_rows, worst_future, past_rows, worst_past, window_rows, newest = (int(v) for v in stats.rows[0])
    observed += [
        Observation("window_rows", window_rows, "rows"),
        Observation("future_rows", future_rows, "rows"),
        Observation("past_rows", past_rows, "rows"),
    ]
    span = fmt_span(lookback)
    if window_rows == 0:
        findings.append((Status.FAIL, f"no rows in the last {span}"))
    else:
        lag = max(0, now - newest)
        observed.append(Observation("lag", lag, "s"))
        if lag > options.max_lag:
            findings.append(
                (Status.FAIL, f"newest row is {fmt_age(lag)} old ({fmt_time(newest)}), max lag {fmt_span(options.max_lag)}")
            )
    if future_rows:
        findings.append(
            (Status.FAIL, f"{plural(future_rows, 'row')} dated in the future, worst {fmt_time(worst_future)}")
        )
    if past_rows:
        findings.append(
            (Status.FAIL, f"{plural(past_rows, 'row')} dated before {fmt_time(floor)}, earliest {fmt_time(worst_past)}")
        )

    gaps = 0
    if options.min_bucket_rows:
        first = -(-window // bucket) * bucket  # the first whole bucket inside the window
        end = now // bucket * bucket  # the bucket in progress is not judged
        buckets_sql = (
            f"SELECT intDiv({tc.seconds}, {bucket}) * {bucket} AS b, count() FROM {ref.sql} "
            f"WHERE {tc.between(first, end)} GROUP BY b"
        )
        result = await run_query(ctx, buckets_sql, "buckets", f"timeseries bucket query on {ref}")
        observed.extend(query_observations("buckets", result))
        counts = {int(b): int(c) for b, c in result.rows}
        empty = [b for b in range(first, end, bucket) if counts.get(b, 0) < options.min_bucket_rows]
        gaps = len(empty)
        observed.append(Observation("gaps", gaps))
        if empty:
            what = "with no rows" if options.min_bucket_rows == 1 else f"under {options.min_bucket_rows} rows"
            findings.append(
                (
                    Status.FAIL,
                    (
                        f"{plural(gaps, 'gap')} in the last {span} ({fmt_span(bucket)} buckets {what}), "
                        f"first at {fmt_bucket(empty[0], bucket)}"
                    ),
                )
            )

    if options.keys:
        keys = ", ".join(f"`{k}`" for k in options.keys)
        example = (
            f"toString(`{options.keys[0]}`)"
            if len(options.keys) == 1
            else "concat(" + ", ', ', ".join(f"toString(`{k}`)" for k in options.keys) + ")"
        )
        duplicates_sql = (
            f"SELECT count(), sum(c) - count(), max(c), argMax({example}, c) FROM "
            f"(SELECT {keys}, count() AS c FROM {ref.sql} WHERE {tc.sql} >= {tc.literal(window)} "
            f"AND {tc.sql} <= {tc.literal(future)} GROUP BY {keys} HAVING c > 1)"
        )
        result = await run_query(ctx, duplicates_sql, "duplicates", f"timeseries duplicates query on {ref}")
        observed.extend(query_observations("duplicates", result))
        repeated, extra, worst, worst_key = result.rows[0]
        extra = int(extra or 0)
        observed.append(Observation("duplicate_rows", extra, "rows"))
        if extra > options.max_duplicates:
            findings.append(
                (
                    Status.FAIL,
                    (
                        f"{plural(extra, 'duplicate row')} on ({', '.join(options.keys)}) in the last {span}, "
                        f"{plural(int(repeated), 'key')} repeated, worst {worst_key} x{int(worst)}"
                    ),
                )
            )
    clean = ["gaps"] if options.min_bucket_rows else []
    clean += ["future", f"pre-{fmt_time(floor)[:10]}"]
    if options.keys:
        clean.append("duplicate")
    ok = (
        f"{plural(window_rows, 'row')} in the last {span}, newest {fmt_age(max(0, now - newest))} old; "
        f"no {', '.join(clean[:-1])} or {clean[-1]} rows"
    )
    return Outcome.from_findings(findings, observed, ok=ok)


# -- rollup -----------------------------------------------------------------------------------------

_COMBINE: dict[str, Callable[[list[Any]], Any]] = {"count": sum, "sum": sum, "min": min, "max": max}


def _measure_sql(measure: str) -> tuple[str, str]:
    """Normalized measure -> (SQL with a quoted column, the function name)."""
    match = MEASURE.match(measure)
    assert match is not None
    if match.group(1):
        return "count()", "count"
    return f"{match.group(2)}(`{match.group(3)}`)", match.group(2)


def _agrees(a: Any, b: Any, tolerance: float) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    return bool(abs(a - b) <= tolerance * max(abs(a), abs(b)))


async def rollup(ctx: CheckContext[Any, Any, ClickHouseClient, Any]) -> Outcome:
    """Each level against the one below, per closed bucket of the upper level, over the lookback window.

    Each level is read once, grouped by its own bucket, and rolled up further in Vigil (count and sum add,
    min and max combine), so no level is scanned more than once per run.
    """
    options: ClickHouseRollup = ctx.options
    component: ClickHouseComponent = ctx.component
    levels = options.levels
    measure_names = list(levels[0].measures)
    refs = [TableRef.parse(level.table, component.database) for level in levels]
    now, columns = await describe_tables(ctx, [(ref, level.time_column, []) for ref, level in zip(refs, levels, strict=True)])

    # One window per pair (lower, upper), in the upper level's closed buckets.
    pairs: list[tuple[int, int, int, int]] = []  # (lower index, bucket, start, end)
    for index in range(len(levels) - 1):
        bucket = int(_grouping(levels, index + 1))
        end = int(now - options.settle) // bucket * bucket
        start = end - math.ceil(options.lookback / bucket) * bucket
        pairs.append((index, bucket, start, end))

    findings: list[tuple[Status, str]] = []
    observed: list[Observation] = []
    values: list[dict[int, tuple[Any, ...]]] = []
    for index, (level, ref) in enumerate(zip(levels, refs, strict=True)):
        tc = columns[(ref, level.time_column)]
        grouping = int(_grouping(levels, index))
        if tc.is_date and grouping % 86400:
            raise SchemaMismatch(f"level {level.name}: {ref}.{tc.name} is a Date, its bucket must be whole days")
        spans = [(s, e) for (i, _, s, e) in pairs if i in (index, index - 1)]
        start, end = min(s for s, _ in spans), max(e for _, e in spans)
        selects = ", ".join(_measure_sql(level.measures[m])[0] for m in measure_names)
        sql = (
            f"SELECT intDiv({tc.seconds}, {grouping}) * {grouping} AS b, {selects} FROM {ref.sql} "
            f"WHERE {tc.between(start, end)} GROUP BY b"
        )
        result = await run_query(ctx, sql, level.name, f"rollup query on level {level.name} ({ref})")
        observed.extend(query_observations(level.name, result))
        values.append({int(row[0]): tuple(row[1:]) for row in result.rows})

    summaries = []
    for index, bucket, start, end in pairs:
        lower, upper = levels[index], levels[index + 1]
        ops = [_COMBINE[_measure_sql(lower.measures[m])[1]] for m in measure_names]
        rolled: dict[int, list[list[Any]]] = {}
        for b, row in values[index].items():
            if start <= b < end:
                parts = rolled.setdefault(b // bucket * bucket, [[] for _ in measure_names])
                for part, value in zip(parts, row, strict=True):
                    part.append(value)
        below = {b: tuple(op(p) for op, p in zip(ops, parts, strict=True)) for b, parts in rolled.items()}
        above = {b: row for b, row in values[index + 1].items() if start <= b < end}
        compared = sorted(set(below) | set(above))
        mismatches: list[tuple[int, str]] = []
        for b in compared:
            low = below.get(b) or tuple(_empty(op) for op in ops)
            high = above.get(b) or tuple(_empty(op) for op in ops)
            differ = [
                f"{m} {fmt_value(x)} vs {fmt_value(y)}"
                for m, x, y in zip(measure_names, low, high, strict=True)
                if not _agrees(x, y, options.tolerance)
            ]
            if differ:
                mismatches.append((b, ", ".join(differ)))
        pair = f"{lower.name}->{upper.name}"
        observed.append(Observation(f"{lower.name}_{upper.name}_buckets", len(compared)))
        observed.append(Observation(f"{lower.name}_{upper.name}_mismatched_buckets", len(mismatches)))
        if mismatches:
            first, detail = mismatches[0]
            where = (
                f"at {fmt_bucket(first, bucket)}"
                if len(mismatches) == 1
                else f"in {len(mismatches)} of {len(compared)} buckets, first at {fmt_bucket(first, bucket)}"
            )
            findings.append((Status.FAIL, f"rollup {pair} mismatch {where}: {detail}"))
        elif not compared:
            findings.append((Status.WARN, f"rollup {pair}: no rows in closed buckets of the last {fmt_span(options.lookback)}"))
        summaries.append(f"{pair} agree on {plural(len(compared), 'bucket')}")
    ok = f"{'; '.join(summaries)} (closed buckets of the last {fmt_span(options.lookback)})"
    return Outcome.from_findings(findings, observed, ok=ok)


def _empty(op: Any) -> Any:
    """The value of an aggregate over no rows, as compared: 0 for count and sum, nothing for min and max."""
    return 0 if op is sum else None


# -- the component type -----------------------------------------------------------------------------


def describe_error(exc: BaseException) -> str | None:
    if isinstance(exc, PoolExhausted | QueryTimeout | NoAnswer | SchemaMismatch):
        return str(exc)
    if isinstance(exc, ServerException):
        return f"ClickHouse error {exc.code}: {server_error_text(exc)}"
    return None


CLICKHOUSE = ComponentType(
    config=ClickHouseComponent,
    kinds=(
        CheckKind(ClickHouseConnectivity, connectivity),
        CheckKind(ClickHouseQueryPerformance, query_performance),
        CheckKind(ClickHouseTimeseries, timeseries),
        CheckKind(ClickHouseRollup, rollup),
    ),
    open_client=open_client,
    close_client=close_client,
    describe_error=describe_error,
)
