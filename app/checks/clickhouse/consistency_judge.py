"""How the `consistency` check compares the replicas of each shard, bucket by settled bucket: row counts (and a
measure) must agree; a disagreement names the bucket, both replicas and both values. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app import units
from app.checks.clickhouse.buckets import Buckets
from app.checks.clickhouse.chain import Rows, agrees, empty_value
from app.checks.clickhouse.cluster_config import ClickHouseConsistency
from app.checks.clickhouse.hosts import ClusterHost
from app.checks.clickhouse.names import parse_measure
from app.checks.judging import Finding
from app.model import Observation, Outcome, Status

Read = tuple[ClusterHost, Rows | None, str | None]  # a host, its buckets (start -> row count, measure), or why not


@dataclass(frozen=True, slots=True)
class Span:
    """The settled buckets compared: [start, end) on `grid`, end at least `settle` before the server's now."""

    grid: Buckets
    start: int
    end: int

    @classmethod
    def at(cls, now: int, options: ClickHouseConsistency, grid: Buckets) -> Span:
        end = grid.floor(int(now - options.settle))
        return cls(grid, grid.floor(end - int(options.lookback)), end)


def differences(
    a: Rows, b: Rows, names: Sequence[str], functions: Sequence[str], tolerance: float
) -> tuple[list[tuple[int, list[tuple[str, object, object]]]], int]:
    """(bucket, [(name, a's value, b's value)...]) for each bucket where two replicas disagree, and how many buckets
    were compared; a bucket one replica lacks counts as empty there (no rows: count 0)."""
    empty = tuple(empty_value(f) for f in functions)
    compared = sorted(set(a) | set(b))
    found = []
    for bucket in compared:
        x, y = a.get(bucket, empty), b.get(bucket, empty)
        differ = [(n, u, v) for n, u, v in zip(names, x, y, strict=True) if not agrees(u, v, tolerance)]
        if differ:
            found.append((bucket, differ))
    return found, len(compared)


def judge(options: ClickHouseConsistency, span: Span, reads: Sequence[Read], observed: list[Observation]) -> Outcome:
    names = ["rows"] + ([options.measure] if options.measure else [])
    functions = ["count"] + ([parse_measure(options.measure)[0]] if options.measure else [])
    lookback = units.span(options.lookback)
    findings: list[Finding] = []
    shards: dict[int, list[Read]] = {}
    for read in reads:
        shards.setdefault(read[0].shard, []).append(read)
    compared_shards = buckets = mismatched = 0
    for shard, hosts in sorted(shards.items()):
        answered = [(host, rows) for host, rows, error in hosts if rows is not None]
        for host, _, error in hosts:
            if error is not None:
                findings.append((Status.FAIL, f"shard {shard} replica {host.replica} not compared: {error}"))
        if len(answered) < 2:
            continue
        compared_shards += 1
        (first, reference), others = answered[0], answered[1:]
        for host, rows in others:
            found, count = differences(reference, rows, names, functions, options.tolerance)
            buckets = max(buckets, count)
            mismatched += len(found)
            if found:
                bucket, differ = found[0]
                at = span.grid.label(bucket)
                where = f"at {at}" if len(found) == 1 else f"in {len(found)} of {count} settled buckets, first at {at}"
                values = ", ".join(
                    f"{name} {units.value(u)} on {first.address} vs {units.value(v)} on {host.address}"
                    for name, u, v in differ
                )
                findings.append((Status.FAIL, f"shard {shard} replicas disagree {where}: {values}"))
    if not compared_shards and not any(s is Status.FAIL for s, _ in findings):
        findings.append(
            (Status.WARN, f"cluster {options.cluster} has no shard with two replicas to compare ({options.table})")
        )
    elif compared_shards and not buckets and not findings:
        findings.append((Status.WARN, f"{options.table}: no rows in settled buckets of the last {lookback}"))
    observed = [
        Observation("mismatched_buckets", mismatched),
        Observation("compared_buckets", buckets),
        Observation("compared_shards", compared_shards),
        *observed,
    ]
    what = " and ".join(names)
    ok = (
        f"{options.table}: the replicas of {units.plural(compared_shards, 'shard')} agree on {what} in "
        f"{units.plural(buckets, 'settled bucket')} of the last {lookback}"
    )
    return Outcome.from_findings(findings, observed, ok=ok)
