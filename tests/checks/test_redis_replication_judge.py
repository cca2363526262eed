"""The `replication` check's judgement, without a server: INFO replication read on both ends, thresholds, wording.

The end-to-end behaviour on a real primary + replica pair is in test_redis_replication.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from app.checks.redis import replication_judge as judge
from app.checks.redis.config import RedisReplication
from app.model import Status
from tests.conftest import make_settings

WARN, FAIL = Status.WARN, Status.FAIL
PRIMARY = "10.0.0.5:6379"


def replica_info(**fields: Any) -> dict[str, Any]:
    """INFO replication of a healthy Redis 7 replica, as redis-py parses it, with `fields` changed."""
    info: dict[str, Any] = {
        "role": "slave",
        "master_host": "10.0.0.5",
        "master_port": 6379,
        "master_link_status": "up",
        "master_last_io_seconds_ago": 2,
        "master_sync_in_progress": 0,
        "slave_read_repl_offset": 5000,
        "slave_repl_offset": 5000,
        "master_repl_offset": 5000,
    }
    info.update(fields)
    return info


def link_of(**fields: Any) -> judge.PrimaryLink:
    return judge.PrimaryLink.from_info(replica_info(**fields))


# -- config ---------------------------------------------------------------------------------------------------


def test_defaults_and_severity() -> None:
    settings = make_settings(components={"cache": {"type": "redis", "checks": {"replication": {}}}})
    options = settings.components["cache"].checks["replication"]
    assert isinstance(options, RedisReplication)
    assert (options.min_replicas, options.last_io_warn, options.last_io_fail) == (0, 15.0, 45.0)
    assert (options.lag_bytes_warn, options.lag_bytes_fail) == (1024 * 1024, 16 * 1024 * 1024)
    assert settings.schedule("cache", "replication").severity.value == "degraded"


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ({"last_io_warn": "1m", "last_io_fail": "30s"}, "last_io_warn must not be above last_io_fail"),
        ({"lag_bytes_warn": 2048, "lag_bytes_fail": 1024}, "lag_bytes_warn must not be above lag_bytes_fail"),
        ({"min_replicas": -1}, "greater than or equal to 0"),
        ({"lag_bytes_warn": 0}, "greater than or equal to 1"),
    ],
)
def test_invalid_options_are_refused(check: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make_settings(components={"cache": {"type": "redis", "checks": {"r": {"kind": "replication", **check}}}})


# -- on a replica ---------------------------------------------------------------------------------------------


def test_healthy_link() -> None:
    link = link_of()
    assert link == judge.PrimaryLink(PRIMARY, up=True, syncing=False, last_io=2, received=5000, applied=5000)
    assert judge.link_findings(link, RedisReplication()) == []
    assert judge.link_summary(link) == (
        "replica of 10.0.0.5:6379: link up, last I/O 2 s ago, 0 B received and not applied yet"
    )


def test_lag_is_what_was_received_and_not_applied() -> None:
    """On a replica, master_repl_offset is its own (it equals slave_repl_offset): the primary's latest offset is
    not in the replica's INFO. What it can tell is the stream it read and has not applied yet."""
    link = link_of(slave_read_repl_offset=1_105_000, slave_repl_offset=5000, master_repl_offset=5000)
    assert link.lag_bytes == 1_100_000
    assert judge.link_findings(link, RedisReplication()) == [
        (
            WARN,
            "replica is 1.0 MiB behind what it received from primary 10.0.0.5:6379 "
            "(slave_read_repl_offset 1105000, slave_repl_offset 5000), at or above the 1.0 MiB warn threshold",
        )
    ]
    assert judge.link_findings(link, RedisReplication(lag_bytes_fail=1_100_000))[0][0] is FAIL


def test_no_read_offset_before_redis_7_means_unknown_lag() -> None:
    info = replica_info()
    del info["slave_read_repl_offset"]
    link = judge.PrimaryLink.from_info(info)
    assert link.lag_bytes is None and judge.link_findings(link, RedisReplication()) == []
    assert judge.link_summary(link) == "replica of 10.0.0.5:6379: link up, last I/O 2 s ago"


@pytest.mark.parametrize(
    ("last_io", "expected"),
    [
        (14, []),
        (15, [(WARN, "no I/O with primary 10.0.0.5:6379 for 15 s (master_last_io_seconds_ago), "
                     "at or above the 15s warn threshold")]),
        (45, [(FAIL, "no I/O with primary 10.0.0.5:6379 for 45 s (master_last_io_seconds_ago), "
                     "at or above the 45s fail threshold")]),
    ],
)  # fmt: skip
def test_silent_primary(last_io: int, expected: list[Any]) -> None:
    assert judge.link_findings(link_of(master_last_io_seconds_ago=last_io), RedisReplication()) == expected


def test_link_down_names_the_status_and_the_seconds_since_the_last_io() -> None:
    link = link_of(master_link_status="down", master_last_io_seconds_ago=-1, master_link_down_since_seconds=3)
    assert link.up is False and link.last_io == 3
    assert judge.link_findings(link, RedisReplication()) == [
        (
            FAIL,
            "replication link to primary 10.0.0.5:6379 is down (master_link_status:down): "
            "no I/O with the primary for 3 s",
        )
    ]


def test_link_that_never_came_up() -> None:
    link = link_of(master_link_status="down", master_last_io_seconds_ago=-1, master_link_down_since_seconds=-1)
    assert link.last_io is None
    assert judge.link_findings(link, RedisReplication()) == [
        (
            FAIL,
            "replication link to primary 10.0.0.5:6379 is down (master_link_status:down): "
            "it has not come up since the replica started",
        )
    ]


def test_full_sync_in_progress() -> None:
    link = link_of(master_link_status="down", master_sync_in_progress=1, master_sync_last_io_seconds_ago=0)
    assert judge.link_findings(link, RedisReplication()) == [
        (
            FAIL,
            "replica is not serving current data: full sync from primary 10.0.0.5:6379 in progress "
            "(master_link_status:down, last I/O 0 s ago)",
        )
    ]


# -- on a primary ---------------------------------------------------------------------------------------------


def primary_info(*replicas: Any, offset: int = 10_000) -> dict[str, Any]:
    info: dict[str, Any] = {"role": "master", "connected_slaves": len(replicas), "master_repl_offset": offset}
    for i, replica in enumerate(replicas):
        info[f"slave{i}"] = replica
    return info


def replica(port: int, offset: int = 10_000, lag: int = 0, state: str = "online") -> dict[str, Any]:
    return {"ip": "10.0.0.6", "port": port, "state": state, "offset": offset, "lag": lag}


def test_replica_lines_in_order_whether_parsed_or_not() -> None:
    info = primary_info(*[replica(7000 + i) for i in range(11)])
    info["slave3"] = "ip=10.0.0.7,port=7003,state=send_bulk,offset=0,lag=0"  # an unparsed line reads alike
    replicas = judge.Replicas.from_info(info)
    assert [link.name for link in replicas.links][:4] == [
        "10.0.0.6:7000",
        "10.0.0.6:7001",
        "10.0.0.6:7002",
        "10.0.0.7:7003",
    ]
    assert replicas.links[-1].name == "10.0.0.6:7010"  # slave10 after slave9, not after slave1
    assert replicas.links[3] == judge.ReplicaLink("10.0.0.7:7003", "send_bulk", 0, 0)
    assert len(replicas.online) == 10 and replicas.connected == 11


def test_no_replicas_none_required() -> None:
    replicas = judge.Replicas.from_info(primary_info())
    assert judge.replicas_findings(replicas, RedisReplication()) == []
    assert judge.replicas_summary(replicas, RedisReplication()) == "primary with 0 replicas online (none required)"


def test_fewer_replicas_online_than_required_fails() -> None:
    replicas = judge.Replicas.from_info(primary_info(replica(7001), replica(7002, state="wait_bgsave")))
    assert judge.replicas_findings(replicas, RedisReplication(min_replicas=2)) == [
        (FAIL, "1 of 2 required replicas online (connected_slaves:2)"),
        (WARN, "replica 10.0.0.6:7002 is not online (state=wait_bgsave): syncing"),
    ]
    none = judge.Replicas.from_info(primary_info())
    assert judge.replicas_findings(none, RedisReplication(min_replicas=1)) == [
        (FAIL, "0 of 1 required replica online (connected_slaves:0)")
    ]


def test_each_replica_judged_by_bytes_and_by_acknowledgement_age() -> None:
    links = replica(7001, offset=3_000_000), replica(7002, offset=1_000_000, lag=1), replica(7003, 3_000_000, lag=50)
    replicas = judge.Replicas.from_info(primary_info(*links, offset=3_000_000))
    assert judge.replicas_findings(replicas, RedisReplication()) == [
        (
            WARN,
            "replica 10.0.0.6:7002 is 1.9 MiB behind the primary (offset 1000000 of 3000000), "
            "at or above the 1.0 MiB warn threshold",
        ),
        (FAIL, "replica 10.0.0.6:7003 last acknowledged 50 s ago (lag=50), at or above the 45s fail threshold"),
    ]
    assert judge.replicas_summary(replicas, RedisReplication(min_replicas=2)) == (
        "primary with 3 replicas online (2 required); most behind: 10.0.0.6:7002 by 1.9 MiB, acknowledged 1 s ago"
    )


def test_a_replica_ahead_of_the_reading_is_not_negative_lag() -> None:
    """The offsets are read at one instant but a replica's is its last acknowledgement: never below 0."""
    replicas = judge.Replicas.from_info(primary_info(replica(7001, offset=10_500), offset=10_000))
    assert replicas.lag_bytes(replicas.links[0]) == 0
