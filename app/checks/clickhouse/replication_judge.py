"""How the `replication` check judges system.replicas: read-only tables, delay, queue, and replicas gone inactive.

Pure: rows in, findings and an Outcome out. Each figure is judged on its worst table, which the sentence names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from app import units
from app.checks.clickhouse.cluster_config import ClickHouseReplication
from app.checks.judging import Finding, threshold
from app.model import Limit, Observation, Outcome, Status


@dataclass(frozen=True, slots=True)
class ReplicaState:
    """One replicated table on this server, as its system.replicas row has it."""

    table: str  # database.table
    readonly: bool
    session_expired: bool
    queue_size: int
    inserts_in_queue: int
    queue_age: int  # seconds since the oldest queue entry was created; 0 with an empty queue
    delay: int  # absolute_delay, seconds
    total_replicas: int | None = None  # from ZooKeeper: None when not read
    active_replicas: int | None = None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> ReplicaState:
        """A `replicas_query` row: database, table, is_readonly, is_session_expired, queue_size, inserts_in_queue,
        queue_oldest_time (epoch, 0: none), absolute_delay, now."""
        database, table, readonly, expired, queue, inserts, oldest, delay, now = row
        age = max(0, int(now) - int(oldest)) if int(oldest) else 0
        return cls(f"{database}.{table}", bool(readonly), bool(expired), int(queue), int(inserts), age, int(delay))

    def with_counts(self, total: int, active: int) -> ReplicaState:
        return ReplicaState(
            self.table,
            self.readonly,
            self.session_expired,
            self.queue_size,
            self.inserts_in_queue,
            self.queue_age,
            self.delay,
            total,
            active,
        )

    @property
    def inactive(self) -> int:
        if self.total_replicas is None or self.active_replicas is None:
            return 0
        return max(0, self.total_replicas - self.active_replicas)


def _worst(
    tables: Sequence[ReplicaState],
    value: Callable[[ReplicaState], int],
    said: Callable[[ReplicaState], str],
    warn: float | None,
    fail: float | None,
    shown: Callable[[float], str],
    limit: str,
) -> list[Finding]:
    worst = max(tables, key=value)
    found = threshold(value(worst), said(worst), warn=warn, fail=fail, shown=shown, limit=limit)
    return [] if found is None else [found]


def _count(n: float) -> str:
    return units.value(int(n))


def _entries(n: int) -> str:
    return f"{n} {'entry' if n == 1 else 'entries'}"


def findings(
    options: ClickHouseReplication,
    tables: Sequence[ReplicaState],
    missing: Sequence[str],
    zookeeper_error: str | None,
) -> list[Finding]:
    """Read-only tables and missing ones fail; delay, queue and queue age against their limits; inactive replicas
    warn, naming how many are missing."""
    found: list[Finding] = []
    if missing:
        names = ", ".join(missing)
        found.append((Status.FAIL, f"not a replicated table on this server (not in system.replicas): {names}"))
    readonly = [t for t in tables if t.readonly or t.session_expired]
    if readonly:
        names = ", ".join(t.table for t in readonly)
        why = "ZooKeeper session expired" if any(t.session_expired for t in readonly) else "is_readonly"
        count = units.plural(len(readonly), "replicated table")
        found.append((Status.FAIL, f"{count} read-only ({why}), inserts into them fail: {names}"))
    if zookeeper_error is not None:
        found.append((Status.FAIL, f"the server cannot read replication state from ZooKeeper: {zookeeper_error}"))
    if not tables:
        return found
    found += _worst(
        tables,
        lambda t: t.delay,
        lambda t: f"{t.table} is {units.age(t.delay)} behind (absolute_delay)",
        options.delay_warn,
        options.max_delay,
        units.span,
        "max delay",
    )
    found += _worst(
        tables,
        lambda t: t.queue_size,
        lambda t: f"{t.table} has {_entries(t.queue_size)} in its replication queue",
        options.queue_warn,
        options.queue_fail,
        _count,
        "maximum",
    )
    found += _worst(
        tables,
        lambda t: t.inserts_in_queue,
        lambda t: f"{t.table} has {units.plural(t.inserts_in_queue, 'inserted part')} still to fetch",
        options.inserts_warn,
        options.inserts_fail,
        _count,
        "maximum",
    )
    found += _worst(
        tables,
        lambda t: t.queue_age,
        lambda t: f"{t.table}'s oldest replication queue entry is {units.age(t.queue_age)} old",
        options.queue_age_warn,
        options.queue_age_fail,
        units.span,
        "maximum",
    )
    groups: dict[tuple[int, int], list[str]] = {}
    for t in tables:
        if t.inactive and t.total_replicas is not None:
            groups.setdefault((t.inactive, t.total_replicas), []).append(t.table)
    for (inactive, total), grouped in sorted(groups.items(), reverse=True):
        found.append((Status.WARN, f"{inactive} of {total} replicas not active for {', '.join(grouped)}"))
    return found


def judge(
    options: ClickHouseReplication,
    tables: Sequence[ReplicaState],
    missing: Sequence[str],
    zookeeper_error: str | None,
    database: str | None,
    observed: list[Observation],
) -> Outcome:
    """The check's Outcome; `database` is the one whose replicated tables were looked at (None: configured tables)."""
    found = findings(options, tables, missing, zookeeper_error)
    if not tables and not missing:
        found.append((Status.FAIL, f"no replicated tables in database {database} on this server (system.replicas)"))
    worst = max(tables, key=lambda t: t.delay, default=None)
    limit = None
    if options.max_delay is not None:
        limit = Limit(options.max_delay, f"the {units.span(options.max_delay)} max delay")
    observed = [
        Observation("absolute_delay", None if worst is None else worst.delay, "s", limit),
        Observation("queue_size", max((t.queue_size for t in tables), default=0)),
        Observation("inserts_in_queue", max((t.inserts_in_queue for t in tables), default=0)),
        Observation("queue_oldest_age", max((t.queue_age for t in tables), default=0), "s"),
        Observation("replicated_tables", len(tables)),
        Observation("readonly_tables", sum(1 for t in tables if t.readonly or t.session_expired)),
        Observation("inactive_replicas", max((t.inactive for t in tables), default=0)),
        *observed,
    ]
    ok = ""
    if worst is not None:
        if database is not None:
            subject = f"{units.plural(len(tables), 'replicated table')} in database {database}"
        else:
            subject = units.plural(len(tables), "configured replicated table")
        replicas = {(t.active_replicas, t.total_replicas) for t in tables if t.total_replicas is not None}
        counts = " / ".join(f"{a} of {n}" for a, n in sorted(replicas, key=str))
        noun = "replica" if replicas == {(1, 1)} else "replicas"
        active = f"{counts} {noun} active" if replicas else "replica counts not read"
        queue = max(tables, key=lambda t: t.queue_size)
        ok = (
            f"{subject}, none read-only, {active}; "
            f"most behind {worst.table} by {units.age(worst.delay)}, "
            f"longest queue {_entries(queue.queue_size)}"
        )
    return Outcome.from_findings(found, observed, ok=ok)
