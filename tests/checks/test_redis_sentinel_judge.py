"""The `sentinel` check's judge (pure: Sentinels' replies in, findings out) and the `sentinel:` block's validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from redis.exceptions import ResponseError

from app.checks.redis.sentinel_config import RedisSentinel, split_address
from app.checks.redis.sentinel_judge import FailoverMemo, SentinelView, findings, summary
from app.config.settings import ConfigError, load_settings
from app.model import Status

MASTER = "mymaster"
OPTIONS = RedisSentinel()


def state(port: int = 6379, flags: str = "master", quorum: int = 2, epoch: int = 0) -> dict[str, Any]:
    return {"ip": "10.0.0.1", "port": port, "flags": flags, "quorum": quorum, "config-epoch": epoch}


def replica(port: int, flags: str = "slave") -> dict[str, Any]:
    return {"ip": "10.0.0.2", "port": port, "flags": flags}


def view(
    sentinel: int, primary: dict[str, Any] | None = None, replicas: Any = None, ckquorum: Any = b"OK"
) -> SentinelView:
    replies = [primary or state(), [replica(6380)] if replicas is None else replicas, ckquorum]
    return SentinelView.from_replies(f"10.0.0.9:{sentinel}", MASTER, replies)


def unreachable(sentinel: int) -> SentinelView:
    return SentinelView(
        f"10.0.0.9:{sentinel}", error=f"cannot reach Sentinel at 10.0.0.9:{sentinel}: connection refused"
    )


def judge(views: list[SentinelView], memo: FailoverMemo | None = None, now: float = 1000.0, **options: Any) -> Any:
    return findings(MASTER, views, RedisSentinel(**options), memo or FailoverMemo(), now)


def test_all_agree_and_pass() -> None:
    views = [view(1), view(2), view(3)]
    assert judge(views) == []
    assert summary(MASTER, views) == (
        "3 of 3 Sentinels (quorum 2) agree: the primary of mymaster is 10.0.0.1:6379, with 1 replica up"
    )


def test_one_unreachable_warns_two_fail_the_quorum() -> None:
    assert judge([view(1), view(2), unreachable(3)]) == [
        (
            Status.WARN,
            "1 of 3 Sentinels of mymaster unreachable: cannot reach Sentinel at 10.0.0.9:3: connection refused",
        )
    ]
    assert judge([view(1), unreachable(2), unreachable(3)]) == [
        (
            Status.FAIL,
            "only 1 of 3 Sentinels of mymaster answered, fewer than its quorum of 2: no failover can be authorised; "
            "cannot reach Sentinel at 10.0.0.9:2: connection refused; "
            "cannot reach Sentinel at 10.0.0.9:3: connection refused",
        )
    ]
    assert judge([unreachable(1)]) == [
        (Status.FAIL, "no Sentinel of mymaster answered: cannot reach Sentinel at 10.0.0.9:1: connection refused")
    ]


def test_noquorum_fails_naming_the_sentinel() -> None:
    noquorum = ResponseError("NOQUORUM 1 usable Sentinels. Not enough available Sentinels to reach the quorum")
    assert judge([view(1, ckquorum=noquorum), view(2), view(3)]) == [
        (
            Status.FAIL,
            "Sentinel at 10.0.0.9:1 cannot authorise a failover of mymaster: "
            "NOQUORUM 1 usable Sentinels. Not enough available Sentinels to reach the quorum",
        )
    ]


def test_disagreement_fails_naming_who_says_what() -> None:
    found = judge([view(1), view(2), view(3, primary=state(port=6380, epoch=1))])
    assert found == [
        (
            Status.FAIL,
            "the Sentinels of mymaster disagree on its primary: 10.0.0.1:6379 (by 10.0.0.9:1, 10.0.0.9:2), "
            "10.0.0.1:6380 (by 10.0.0.9:3)",
        )
    ]


def test_a_primary_seen_down() -> None:
    assert judge([view(1, primary=state(flags="master,s_down")), view(2)]) == [
        (Status.WARN, "the primary of mymaster, 10.0.0.1:6379, is seen down (s_down)")
    ]
    assert judge([view(1, primary=state(flags="master,s_down,o_down")), view(2)])[0][0] is Status.FAIL


def test_missing_replicas_warn_naming_those_down() -> None:
    replicas = [replica(6380, "slave,s_down,disconnected")]
    assert judge([view(1, replicas=replicas), view(2, replicas=replicas)]) == [
        (
            Status.WARN,
            "the primary of mymaster, 10.0.0.1:6379, has 0 replicas up, 1 required; "
            "down: 10.0.0.2:6380 (disconnected,s_down)",
        )
    ]
    assert judge([view(1, replicas=[]), view(2, replicas=[])], replicas_required=0) == []
    assert judge([view(1)]) == [
        (
            Status.FAIL,
            "only 1 of 1 Sentinels of mymaster answered, fewer than its quorum of 2: no failover can be authorised; "
            "list every Sentinel in sentinel.addresses",
        )
    ]


def test_a_failover_warns_for_recent_failover_naming_both_primaries() -> None:
    memo = FailoverMemo()
    assert judge([view(1, primary=state(quorum=1))], memo, now=1000.0) == []
    moved = [view(1, primary=state(port=6380, quorum=1, epoch=1))]
    warning = (Status.WARN, "failover 30 s ago: the primary of mymaster moved from 10.0.0.1:6379 to 10.0.0.1:6380")
    assert judge(moved, memo, now=1000.0) == [(Status.WARN, warning[1].replace("30 s", "0 s"))]
    assert judge(moved, memo, now=1030.0, recent_failover="1h") == [warning]
    assert judge(moved, memo, now=1000.0 + 3600, recent_failover="1h") == []
    assert memo.failover == ("10.0.0.1:6379", "10.0.0.1:6380", 1000.0)
    # A run where the Sentinels disagree moves nothing on.
    judge([view(1, primary=state(quorum=1)), view(2, primary=state(port=6381, quorum=1))], memo, now=5000.0)
    assert memo.primary == "10.0.0.1:6380"


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("10.0.0.1:26380", ("10.0.0.1", 26380)),
        ("sentinel-0.internal", ("sentinel-0.internal", 26379)),
        ("[::1]:26379", ("::1", 26379)),
        ("::1", ("::1", 26379)),
    ],
)
def test_addresses(address: str, expected: tuple[str, int]) -> None:
    assert split_address(address) == expected


def load(tmp_path: Path, redis: dict[str, Any]) -> Any:
    path = tmp_path / "vigil.yaml"
    path.write_text(yaml.safe_dump({"components": {"sessions": {"type": "redis", **redis}}}))
    return load_settings(path)


SENTINEL = {"master": MASTER, "addresses": ["10.0.0.1:26379"]}


@pytest.mark.parametrize(
    ("redis", "problem"),
    [
        (
            {"url": "redis://10.0.0.1:6379/0", "sentinel": SENTINEL},
            "components.sessions: set exactly one of url or sentinel, not both",
        ),
        ({"sentinel": {**SENTINEL, "addresses": ["10.0.0.1:99999"]}}, "the port must be a number from 1 to 65535"),
        ({"sentinel": {**SENTINEL, "addresses": ["10.0.0.1:1:2"]}}, "'10.0.0.1:1:2' is not a host:port address"),
        ({"sentinel": {**SENTINEL, "addresses": ["redis://10.0.0.1"]}}, "is not a host:port address"),
        ({"sentinel": {**SENTINEL, "addresses": []}}, "components.sessions.sentinel.addresses:"),
        ({"sentinel": {**SENTINEL, "addresses": ["a:1", "a:1"]}}, "'a:1' is listed twice"),
        ({"sentinel": {"addresses": ["a:1"]}}, "components.sessions.sentinel.master: Field required"),
        ({"sentinel": {**SENTINEL, "role": "leader"}}, "components.sessions.sentinel.role:"),
        ({"checks": {"sentinel": {}}}, "checks.sentinel: a sentinel check needs `sentinel:` on the component"),
    ],
)
def test_bad_sentinel_config_is_named(tmp_path: Path, redis: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, redis)
    assert problem in "\n".join(caught.value.problems), caught.value.problems


def test_sentinel_password_from_a_file_is_masked(tmp_path: Path) -> None:
    secret = tmp_path / "sentinel-password"
    secret.write_text("s3ntinel-pass-from-file\n")
    settings = load(tmp_path, {"password": "data-pass", "sentinel": {**SENTINEL, "password_file": str(secret)}})
    target = settings.components["sessions"].sentinel
    assert target is not None and target.password is not None
    assert target.password.get_secret_value() == "s3ntinel-pass-from-file"
    assert {"s3ntinel-pass-from-file", "data-pass"} <= set(settings.secret_values())


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sentinel.yaml"


def test_the_sentinel_example_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for component in ("SESSIONS", "REPLICAS"):
        for variable, value in (("PASSWORD_FILE", "data-value"), ("SENTINEL__PASSWORD_FILE", "sentinel-value")):
            path = tmp_path / f"{component}-{variable}".lower()
            path.write_text(value)
            monkeypatch.setenv(f"VIGIL_COMPONENTS__{component}__{variable}", str(path))
    settings = load_settings(EXAMPLE)
    primary, replica = settings.components["sessions"], settings.components["replicas"]
    assert primary.sentinel is not None and replica.sentinel is not None
    assert primary.sentinel.endpoints[0] == ("sentinel-0.redis", 26379)
    assert (primary.sentinel.role, replica.sentinel.role) == ("primary", "replica")
    assert {"data-value", "sentinel-value"} <= set(settings.secret_values())
