"""How the `cluster` check judges its hosts' answers: a host that did not answer fails, named; a shard with no
host answering says what that does to Distributed queries; slow answers and errors_count growth warn. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from app import units
from app.checks import judging
from app.checks.clickhouse.cluster_config import ClickHouseCluster
from app.checks.clickhouse.hosts import ClusterHost
from app.checks.judging import Finding
from app.model import Observation, Outcome, Status

Answered = tuple[ClusterHost, float | None, str | None]  # a host, its SELECT 1 round trip, or why it gave none


def judge(
    options: ClickHouseCluster,
    answers: Sequence[Answered],
    errors_before: Mapping[str, int] | None,  # each host's errors_count at the last run; None: not on this server
    observed: list[Observation],
) -> Outcome:
    findings: list[Finding] = []
    shards: dict[int, list[Answered]] = {}
    for answer in answers:
        shards.setdefault(answer[0].shard, []).append(answer)
    for host, rtt, error in answers:
        if error is not None:
            findings.append((Status.FAIL, f"shard {host.shard} replica {host.replica}: {error}"))
        elif rtt is not None and (slow := judging.latency(f"SELECT 1 on {host.label}", rtt, options.latency_warn)):
            findings.append(slow)
        before = None if errors_before is None else errors_before.get(host.address)
        if before is not None and options.errors_warn is not None and host.errors - before >= options.errors_warn:
            grew = host.errors - before
            findings.append((Status.WARN, f"{host.label}: errors_count grew by {grew} since the last run"))
    for shard, hosts in sorted(shards.items()):
        if all(error is not None for _, _, error in hosts):
            findings.append(
                (
                    Status.FAIL,
                    f"shard {shard} has no replica answering: Distributed queries over cluster {options.cluster} "
                    "fail, or miss its rows with skip_unavailable_shards",
                )
            )
    answering = [(host, rtt) for host, rtt, error in answers if error is None and rtt is not None]
    slowest = max(answering, key=lambda pair: pair[1], default=None)
    observed = [
        Observation("latency", None if slowest is None else round(slowest[1], 6), "s"),
        Observation("hosts", len(answers)),
        Observation("hosts_answering", len(answering)),
        Observation("shards", len(shards)),
        *observed,
    ]
    ok = f"cluster {options.cluster}: all {units.plural(len(answers), 'host')} of {units.plural(len(shards), 'shard')} answered"
    if slowest is not None:
        ok += f", slowest {slowest[0].label} in {units.latency(slowest[1])}"
    return Outcome.from_findings(findings, observed, ok=ok)
