"""The cluster-wide `clickhouse` kinds' pure parts (replication_judge, cluster_judge, consistency_judge) and their
options: rows in, findings and outputs out, no server. The cases the real topology cannot show on demand: a lost
ZooKeeper read, a table that is not replicated, errors_count (not in ClickHouse 18.16), floats within tolerance.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from app.checks.clickhouse import cluster_judge, consistency_judge, replication_judge
from app.checks.clickhouse.buckets import Buckets
from app.checks.clickhouse.cluster_config import ClickHouseCluster, ClickHouseConsistency, ClickHouseReplication
from app.checks.clickhouse.consistency_judge import Span
from app.checks.clickhouse.hosts import ClusterHost
from app.checks.clickhouse.replication_judge import ReplicaState
from app.model import Limit, Status

NOW = int(datetime(2026, 11, 27, 12, tzinfo=UTC).timestamp())
H = 3600


def state(table: str = "shop.events", **changes: Any) -> ReplicaState:
    fields: dict[str, Any] = {
        "table": table,
        "readonly": False,
        "session_expired": False,
        "queue_size": 0,
        "inserts_in_queue": 0,
        "queue_age": 0,
        "delay": 0,
        "total_replicas": 2,
        "active_replicas": 2,
    }
    return ReplicaState(**{**fields, **changes})


def replication(*tables: ReplicaState, missing: tuple[str, ...] = (), zk: str | None = None, **options: Any) -> Any:
    return replication_judge.judge(ClickHouseReplication(**options), tables, missing, zk, "shop", [])


def test_a_row_of_system_replicas_reads_into_a_state() -> None:
    row = ("shop", "events", 1, 0, 12, 10, NOW - 90, 75, NOW)
    assert ReplicaState.from_row(row) == ReplicaState("shop.events", True, False, 12, 10, 90, 75)
    assert ReplicaState.from_row(("shop", "events", 0, 0, 0, 0, 0, 0, NOW)).queue_age == 0  # 0000-00-00: no entry


def test_replication_passes_and_declares_its_max_delay_for_early_warning() -> None:
    outcome = replication(state(delay=3), state("shop.sessions"))
    assert outcome.status is Status.PASS
    assert outcome.output == (
        "2 replicated tables in database shop, none read-only, 2 of 2 replicas active; "
        "most behind shop.events by 3 s, longest queue 0 entries"
    )
    delay = outcome.observed[0]
    assert (delay.name, delay.value, delay.unit) == ("absolute_delay", 3, "s")
    assert delay.limit == Limit(300.0, "the 5m max delay")
    single = replication_judge.judge(
        ClickHouseReplication(tables=["shop.events"]), [state(total_replicas=1, active_replicas=1)], [], None, None, []
    )
    assert single.output.startswith("1 configured replicated table, none read-only, 1 of 1 replica active;")


def test_read_only_tables_fail_by_name_and_say_why() -> None:
    outcome = replication(state(readonly=True), state("shop.sessions"), state("shop.carts", readonly=True))
    assert outcome.status is Status.FAIL
    assert (
        outcome.output == "2 replicated tables read-only (is_readonly), inserts into them fail: shop.events, shop.carts"
    )
    expired = replication(state(readonly=True, session_expired=True))
    assert expired.output == (
        "1 replicated table read-only (ZooKeeper session expired), inserts into them fail: shop.events"
    )


def test_delay_queue_and_its_age_against_their_limits_on_the_worst_table() -> None:
    outcome = replication(
        state(delay=20), state("shop.sessions", delay=400, queue_size=150, inserts_in_queue=30, queue_age=900)
    )
    assert outcome.status is Status.FAIL
    assert outcome.output.split("; ") == [
        "shop.sessions is 7 min behind (absolute_delay), at or above the 5m max delay",
        "shop.sessions has 150 entries in its replication queue, at or above the 100 warn threshold",
        "shop.sessions has 30 inserted parts still to fetch, at or above the 20 warn threshold",
        "shop.sessions's oldest replication queue entry is 15 min old, at or above the 10m warn threshold",
    ]
    fails = replication(state(queue_size=7), queue_warn=None, queue_fail=5)
    assert fails.output == "shop.events has 7 entries in its replication queue, at or above the 5 maximum"


def test_inactive_replicas_warn_naming_how_many_are_missing() -> None:
    outcome = replication(
        state(active_replicas=1),
        state("shop.sessions", active_replicas=1),
        state("shop.carts", total_replicas=3, active_replicas=3),
    )
    assert outcome.status is Status.WARN
    assert outcome.output == "1 of 2 replicas not active for shop.events, shop.sessions"


def test_missing_tables_a_lost_zookeeper_and_nothing_to_check_fail() -> None:
    missing = replication(state(), missing=("shop.local",))
    assert missing.output == "not a replicated table on this server (not in system.replicas): shop.local"
    lost = replication(state(total_replicas=None, active_replicas=None), zk="Coordination::Exception: Connection loss")
    assert lost.status is Status.FAIL
    assert lost.output == (
        "the server cannot read replication state from ZooKeeper: Coordination::Exception: Connection loss"
    )
    none = replication()
    assert (none.status, none.output) == (
        Status.FAIL,
        "no replicated tables in database shop on this server (system.replicas)",
    )


def host(shard: int, replica: int, port: int, errors: int = 0) -> ClusterHost:
    return ClusterHost(shard, replica, "127.0.0.1", port, errors)


def test_cluster_names_a_silent_host_and_a_shard_left_with_none() -> None:
    options = ClickHouseCluster(cluster="main", latency_warn=0.5)
    answers = [
        (host(1, 1, 9001), 0.002, None),
        (host(1, 2, 9002), None, "cannot reach ClickHouse at 127.0.0.1:9002: connection refused"),
        (host(2, 1, 9003), 0.7, None),
    ]
    outcome = cluster_judge.judge(options, answers, None, [])
    assert outcome.status is Status.FAIL
    assert outcome.output.split("; ") == [
        "shard 1 replica 2: cannot reach ClickHouse at 127.0.0.1:9002: connection refused",
        "SELECT 1 on shard 2 replica 1 (127.0.0.1:9003) took 700 ms, at or above the 500ms warn threshold",
    ]
    fine = cluster_judge.judge(options, [(host(1, 1, 9001), 0.002, None), (host(1, 2, 9002), 0.003, None)], None, [])
    assert (
        fine.output
        == "cluster main: all 2 hosts of 1 shard answered, slowest shard 1 replica 2 (127.0.0.1:9002) in 3 ms"
    )


def test_errors_count_growth_between_runs_warns_where_the_server_has_it() -> None:
    options = ClickHouseCluster(cluster="main")
    answers = [(host(1, 1, 9001, errors=5), 0.001, None), (host(1, 2, 9002, errors=2), 0.001, None)]
    grown = cluster_judge.judge(options, answers, {"127.0.0.1:9001": 5, "127.0.0.1:9002": 0}, [])
    assert (grown.status, grown.output) == (
        Status.WARN,
        "shard 1 replica 2 (127.0.0.1:9002): errors_count grew by 2 since the last run",
    )
    assert cluster_judge.judge(options, answers, {}, []).status is Status.PASS  # the first run: nothing to compare
    assert cluster_judge.judge(options, answers, None, []).status is Status.PASS  # 18.16: no errors_count


def consistency(**options: Any) -> ClickHouseConsistency:
    return ClickHouseConsistency(**{"cluster": "main", "table": "shop.events", "time_column": "ts", **options})


def test_consistency_names_the_bucket_the_replicas_and_both_values() -> None:
    options = consistency(measure="sum(value)")
    span = Span.at(NOW, options, Buckets(H))
    assert (span.start, span.end) == (NOW - 25 * H, NOW - H)
    a = {NOW - 5 * H: (60, 30.0), NOW - 4 * H: (60, 30.0), NOW - 3 * H: (60, 30.0)}
    b = {NOW - 5 * H: (60, 30.0), NOW - 4 * H: (61, 130.0), NOW - 3 * H: (59, 30.0)}
    reads = [(host(1, 1, 9001), a, None), (host(1, 2, 9002), b, None), (host(2, 1, 9003), a, None)]
    outcome = consistency_judge.judge(options, span, reads, [])
    assert outcome.status is Status.FAIL
    assert outcome.output == (
        "shard 1 replicas disagree in 2 of 3 settled buckets, first at 2026-11-27 08:00: "
        "rows 60 on 127.0.0.1:9001 vs 61 on 127.0.0.1:9002, sum(value) 30 on 127.0.0.1:9001 vs 130 on 127.0.0.1:9002"
    )
    missing = consistency_judge.judge(options, span, [(host(1, 1, 9001), a, None), (host(1, 2, 9002), {}, None)], [])
    assert "in 3 of 3 settled buckets" in missing.output and "rows 60 on 127.0.0.1:9001 vs 0 on" in missing.output


def test_consistency_tolerates_float_noise_and_says_what_it_could_not_compare() -> None:
    options = consistency(measure="sum(value)", tolerance=1e-6)
    span = Span.at(NOW, options, Buckets(H))
    a, b = {NOW - 5 * H: (60, 0.3)}, {NOW - 5 * H: (60, 0.1 + 0.2)}
    same = consistency_judge.judge(options, span, [(host(1, 1, 1), a, None), (host(1, 2, 2), b, None)], [])
    assert (
        same.output
        == "shop.events: the replicas of 1 shard agree on rows and sum(value) in 1 settled bucket of the last 24h"
    )
    lone = consistency_judge.judge(options, span, [(host(1, 1, 1), a, None), (host(2, 1, 2), a, None)], [])
    assert (lone.status, lone.output) == (
        Status.WARN,
        "cluster main has no shard with two replicas to compare (shop.events)",
    )
    empty = consistency_judge.judge(options, span, [(host(1, 1, 1), {}, None), (host(1, 2, 2), {}, None)], [])
    assert (empty.status, empty.output) == (Status.WARN, "shop.events: no rows in settled buckets of the last 24h")
    down = consistency_judge.judge(options, span, [(host(1, 1, 1), a, None), (host(1, 2, 2), None, "lost")], [])
    assert (down.status, down.output) == (Status.FAIL, "shard 1 replica 2 not compared: lost")


@pytest.mark.parametrize(
    ("model", "options", "message"),
    [
        (ClickHouseReplication, {"tables": ["shop.events"], "database": "shop"}, "set tables or database, not both"),
        (ClickHouseReplication, {"tables": ["shop.events; DROP"]}, "is not a table name"),
        (ClickHouseCluster, {"cluster": "main'--"}, "is not a cluster name"),
        (ClickHouseConsistency, {"cluster": "main", "table": "t", "time_column": "ts", "bucket": "7h"}, "divide a day"),
        (
            ClickHouseConsistency,
            {"cluster": "main", "table": "t", "time_column": "ts", "lookback": "30m"},
            "at least one",
        ),
        (
            ClickHouseConsistency,
            {"cluster": "c", "table": "t", "time_column": "ts", "measure": "avg(x)"},
            "not a measure",
        ),
    ],
)
def test_options_are_validated_naming_what_is_wrong(model: Any, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        model(**options)
