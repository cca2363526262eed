"""The cluster's pure parts, without a server: CLUSTER NODES parsing, slot arithmetic, the `cluster` judgement and
how node outcomes combine; and the `cluster:` configuration's rules."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.checks.judging import Finding
from app.checks.redis.cluster_judge import NodeView, judge, parse_info
from app.checks.redis.config import RedisMemory
from app.checks.redis.node_forecast import NodeSeries
from app.checks.redis.on_cluster import CONNECTIVITY, SESSIONS, combine
from app.clients.redis_errors import Unreachable
from app.clients.redis_topology import Topology, hash_tag, ranges_text, slot_of, unassigned
from app.config.fields import Schedule, Severity
from app.config.problems import ConfigError
from app.model import Limit, Observation, Outcome, Status
from tests.conftest import make_settings

NODES = """\
a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460
a2 127.0.0.1:7001@17001 master - 0 0 2 connected 5461-10922
a3 127.0.0.1:7002@17002 master - 0 0 3 connected 10923-16383 [77->-a1]
b1 127.0.0.1:7003@17003 slave a1 0 0 1 connected
b2 127.0.0.1:7004@17004,redis-4.example slave a2 0 0 2 connected
b3 127.0.0.1:7005@17005 slave a3 0 0 3 connected
"""


def view(text: str = NODES, address: str = "127.0.0.1:7000", state: str = "ok", epoch: int = 6) -> NodeView:
    info = parse_info(f"cluster_state:{state}\r\ncluster_current_epoch:{epoch}\r\n")
    return NodeView(address, info, Topology.parse(address, text))


def test_cluster_nodes_parse_into_primaries_replicas_and_slots() -> None:
    topology = Topology.parse("127.0.0.1:7000", NODES + ":0@0 noaddr,master - 0 0 0 disconnected\n")
    assert [node.address for node in topology.primaries] == ["127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"]
    assert [node.address for node in topology.replicas_of(topology.primaries[1])] == ["127.0.0.1:7004"]
    assert topology.primaries[2].slots == ((10923, 16383),)  # a slot in migration is still its owner's
    assert len(topology.nodes) == 6 and unassigned(topology) == []


def test_unassigned_ranges_and_their_wording() -> None:
    topology = Topology.parse("x:1", "a x:1@2 master - 0 0 1 connected 0-99 200 300-16000\n")
    assert unassigned(topology) == [(100, 199), (201, 299), (16001, 16383)]
    assert ranges_text([(5461, 10922)]) == "slots 5461-10922" and ranges_text([(42, 42)]) == "slot 42"


def test_a_healthy_cluster_passes_with_its_figures() -> None:
    found = judge([view(), view(address="127.0.0.1:7003")], {}, 1)
    assert found.findings == [] and found.slots_served == 16384 and (found.primaries, found.replicas) == (3, 3)


def test_a_failed_primary_fails_naming_its_slots_and_a_lone_primary_warns() -> None:
    failed = NODES.replace("7001@17001 master", "7001@17001 master,fail")
    found = judge([view(failed, state="fail")], {"127.0.0.1:7001": "cannot reach Redis"}, 1)
    assert found.findings == [(Status.FAIL, "slots 5461-10922 have no serving primary (node 127.0.0.1:7001 failed)")]
    promoted = """\
a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460
a2 127.0.0.1:7001@17001 master,fail - 0 0 2 disconnected
a3 127.0.0.1:7002@17002 master - 0 0 3 connected 10923-16383
b1 127.0.0.1:7003@17003 slave a1 0 0 1 connected
b2 127.0.0.1:7004@17004 master - 0 0 7 connected 5461-10922
b3 127.0.0.1:7005@17005 slave a3 0 0 3 connected
"""
    found = judge([view(promoted, epoch=7)], {"127.0.0.1:7001": "cannot reach Redis at 127.0.0.1:7001"}, 1)
    texts = [text for status, text in found.findings if status is Status.WARN]
    assert texts == [
        "primary 127.0.0.1:7004 (slots 5461-10922) has no replica, 1 required",
        "33% of the slots have no replica: losing their primary loses them",
        "primary 127.0.0.1:7001 is flagged fail by the cluster (cannot reach Redis at 127.0.0.1:7001)",
    ]
    assert round(found.without_replica_ratio, 4) == 0.3334


def test_pfail_silence_and_epochs_disagreeing_warn() -> None:
    suspected = NODES.replace("7005@17005 slave", "7005@17005 slave,fail?")
    found = judge([view(suspected), view(address="127.0.0.1:7001", epoch=5)], {"127.0.0.1:7002": "no answer"}, 1)
    assert [text for _, text in found.findings] == [
        "replica 127.0.0.1:7005 is flagged pfail by the cluster",
        "node 127.0.0.1:7002 did not answer Vigil: no answer",
        "the nodes disagree on the configuration epoch (127.0.0.1:7000 says 6, 127.0.0.1:7001 says 5)",
    ]
    assert {status for status, _ in found.findings} == {Status.WARN}


def test_a_cluster_state_fail_with_every_slot_served_still_fails() -> None:
    found = judge([view(state="fail", address="127.0.0.1:7003")], {}, 0)
    assert found.findings == [(Status.FAIL, "127.0.0.1:7003 says cluster_state:fail")]


def test_hash_tags_place_keys_on_the_primary_that_owns_the_slots() -> None:
    for slots in (((0, 5460),), ((5461, 10922),), ((16383, 16383),)):
        tag = hash_tag(slots)
        assert tag is not None and slots[0][0] <= slot_of(f"vigil:{tag}:cache:sessions:ttl") <= slots[0][1]


def test_node_outcomes_combine_worst_first_naming_the_nodes() -> None:
    fast = Outcome(Status.PASS, "PONG in 1 ms", (Observation("latency", 0.001, "s"),))
    slow = Outcome(Status.PASS, "PONG in 9 ms", (Observation("latency", 0.009, "s"),))
    down = Unreachable("cannot reach Redis at 127.0.0.1:7002: connection refused")
    passed = combine({"127.0.0.1:7000": fast, "127.0.0.1:7001": slow}, CONNECTIVITY)
    assert passed.status is Status.PASS
    assert passed.output == "all 2 primaries answer PING; slowest 127.0.0.1:7001: PONG in 9 ms"
    failed = combine({"127.0.0.1:7000": fast, "127.0.0.1:7002": down}, CONNECTIVITY)
    assert failed.status is Status.FAIL and failed.output == str(down)
    warned = Outcome(Status.WARN, "no persistence", (Observation("sessions_sampled", 4),))
    sessions = combine({"127.0.0.1:7000": warned, "127.0.0.1:7001": warned}, SESSIONS)
    assert sessions.output == "127.0.0.1:7000, 127.0.0.1:7001: no persistence"
    assert {o.name: o.value for o in sessions.observed}["sessions_sampled"] == 8


@pytest.mark.parametrize(
    ("component", "message"),
    [
        (
            {"url": "redis://127.0.0.1:6379/0", "cluster": {"seeds": ["127.0.0.1:7000"]}},
            "exactly one of url or cluster",
        ),
        ({"cluster": {"seeds": ["127.0.0.1"]}}, "seed '127.0.0.1' is not host:port"),
        ({"cluster": {"seeds": []}}, "seeds"),
        ({"checks": {"c": {"kind": "cluster"}}}, "the cluster check needs a cluster component"),
        ({"cluster": {"seeds": ["h:1"]}, "key_prefix": "v{x}:"}, "key_prefix: no { or }"),
        (
            {"cluster": {"seeds": ["h:1"]}, "checks": {"m": {"kind": "memory", "priority_keys": ["rl:*"]}}},
            "checks.m.priority_keys: patterns are not supported on a cluster",
        ),
    ],
)
def test_cluster_config_errors_name_the_field(component: dict[str, object], message: str) -> None:
    with pytest.raises((ConfigError, ValidationError)) as caught:
        make_settings(components={"cache": {"type": "redis", **component}})
    assert message in str(caught.value)


def test_a_node_filling_up_is_forecast_before_it_is_the_fullest() -> None:
    options = RedisMemory()
    schedule = Schedule(60.0, 5.0, 0.0, 3, 1, Severity.DEGRADED)
    limit = Limit(0.95, "95% of maxmemory")
    series = NodeSeries()
    found: list[Finding] = []
    for minute in range(80):  # 127.0.0.1:7000 flat at 70%, the fullest; 127.0.0.1:7001 rising by 0.5%/min
        outcomes = {
            "127.0.0.1:7000": Outcome(Status.PASS, "", (Observation("memory_utilisation", 0.7, "ratio", limit),)),
            "127.0.0.1:7001": Outcome(
                Status.PASS, "", (Observation("memory_utilisation", 0.1 + 0.005 * minute, "ratio", limit),)
            ),
        }
        found = series.forecasts(outcomes, "127.0.0.1:7000", options, schedule, now=60.0 * minute)
    assert len(found) == 1 and found[0][0] is Status.WARN
    assert found[0][1].startswith("127.0.0.1:7001: memory utilisation reaches 95% of maxmemory in about ")
    assert series.forecasts({}, None, options, schedule, now=3600.0) == [] and series.series == {}
