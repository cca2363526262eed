"""The `redis` checks' judgement, without a server: thresholds, persistence, samples, priority keys, and wording.

Every case here is an edge a live Redis rarely shows on demand (a failing AOF, CONFIG refused, a ratio exactly at
its threshold); the end-to-end behaviour is in test_redis.py.
"""

from __future__ import annotations

import pytest

from app.checks.redis import judge
from app.checks.redis.config import RedisMemory, RedisPool, RedisSessionTtl
from app.checks.redis.server import ServerIdentity
from app.model import Status

WARN, FAIL = Status.WARN, Status.FAIL
NO_PERSISTENCE = "no persistence (AOF off, no RDB save points): sessions will not survive a restart"


# -- ratio thresholds -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ratio", "expected"),
    [
        (0.0, []),
        (0.6999, []),
        (0.7, [(WARN, "load, at or above the 70% warn threshold")]),  # exactly at a threshold counts
        (0.8999, [(WARN, "load, at or above the 70% warn threshold")]),
        (0.9, [(FAIL, "load, at or above the 90% fail threshold")]),
        (1.2, [(FAIL, "load, at or above the 90% fail threshold")]),  # above the limit (maxmemory can be lowered)
    ],
)
def test_ratio_thresholds(ratio: float, expected: list[judge.Finding]) -> None:
    assert judge.ratio_findings(ratio, RedisPool(), "load") == expected


def test_equal_thresholds_fail_at_once() -> None:
    assert judge.ratio_findings(0.8, RedisPool(warn_ratio=0.8, fail_ratio=0.8), "x") == [
        (FAIL, "x, at or above the 80% fail threshold")
    ]


# -- pool -----------------------------------------------------------------------------------------------------


def test_pool_at_the_warn_threshold() -> None:
    findings = judge.pool_findings(14, 20, 0, RedisPool())
    assert findings == [(WARN, "14 of maxclients 20 connections in use (70%), at or above the 70% warn threshold")]


def test_pool_rejections_warn_even_with_headroom() -> None:
    assert judge.pool_findings(1, 100, 1, RedisPool()) == [
        (WARN, "1 client connection rejected since the last run (maxclients reached)")
    ]
    assert judge.pool_findings(1, 100, 3, RedisPool()) == [
        (WARN, "3 client connections rejected since the last run (maxclients reached)")
    ]


@pytest.mark.parametrize("growth", [None, 0])  # None: a first run has no baseline
def test_pool_without_new_rejections_passes(growth: int | None) -> None:
    assert judge.pool_findings(1, 100, growth, RedisPool()) == []
    assert judge.pool_summary(1, 100) == "1 of maxclients 100 connections in use (1%)"


def test_pool_maxclients_unknown_is_no_finding() -> None:
    """Not in INFO (before 7.0) and CONFIG refused: capacity cannot be judged, which is not a problem of Redis."""
    assert judge.pool_findings(50, None, 0, RedisPool()) == []
    assert judge.client_utilisation(50, None) is None
    assert judge.pool_summary(1, None) == "1 client connected; maxclients unknown (not in INFO and CONFIG refused)"
    assert judge.pool_summary(7, None) == "7 clients connected; maxclients unknown (not in INFO and CONFIG refused)"


def test_pool_maxclients_zero_is_not_a_division() -> None:
    assert judge.client_utilisation(5, 0) is None
    assert judge.pool_findings(5, 0, None, RedisPool()) == []


# -- session_ttl: canaries ------------------------------------------------------------------------------------


def test_canary_without_expiry_or_gone_fails() -> None:
    options = RedisSessionTtl()
    assert judge.canary_findings("vigil:c:s:ttl", -1, 0.001, options) == [
        (FAIL, "canary vigil:c:s:ttl was written with a TTL but has no expiry")
    ]
    assert judge.canary_findings("vigil:c:s:ttl", -2, 0.001, options) == [
        (FAIL, "canary vigil:c:s:ttl was gone right after it was written (evicted at once?)")
    ]
    assert judge.canary_drift(60, -1) is None and judge.canary_drift(60, -2) is None


def test_canary_drift_within_tolerance_plus_round_trip_passes() -> None:
    options = RedisSessionTtl(canary_ttl="60s", ttl_tolerance="1s")
    assert judge.canary_drift(60, 59_000) == 1.0
    assert judge.canary_findings("k", 59_000, 0.0, options) == []  # exactly at the tolerance
    assert judge.canary_findings("k", 58_700, 0.3, options) == []  # the round trip is part of the allowance


def test_canary_drift_beyond_tolerance_warns() -> None:
    options = RedisSessionTtl(canary_ttl="60s", ttl_tolerance="500ms")
    assert judge.canary_findings("k", 58_500, 0.002, options) == [
        (
            WARN,
            "canary TTL read back as 58.5 s after writing 1m (off by 1.5 s, tolerance 500ms): "
            "clock, proxy or eviction trouble",
        )
    ]
    assert judge.canary_drift(60, 61_000) == -1.0  # a TTL that grew is off too
    assert judge.canary_findings("k", 61_000, 0.002, options)[0][1].startswith("canary TTL read back as 61 s")


# -- session_ttl: restart canary ------------------------------------------------------------------------------

KEY = "vigil:cache:session_ttl:survival"
STARTED = 1_795_797_172.0  # 2026-11-27T16:32:52Z


A, B = "a" * 40, "b" * 40  # run_ids: the server before and after a restart
KNOWN = f"{A}:11111111"  # the canary as this Vigil last saw it, created under A


def survival(seen: str | None, known: str | None, restarted: bool, last_run_id: str | None = A) -> judge.Survival:
    return judge.survival(KEY, seen, known, last_run_id=last_run_id, restarted=restarted, started_at=STARTED)


def test_first_run_has_no_canary_to_miss() -> None:
    assert survival(None, None, restarted=False, last_run_id=None) == judge.Survival([])
    assert survival(KNOWN, None, restarted=False, last_run_id=None) == judge.Survival([])  # another Vigil's


def test_the_same_canary_passes() -> None:
    assert survival(KNOWN, KNOWN, restarted=False) == judge.Survival([])


def test_canary_lost_in_a_restart_fails_and_latches() -> None:
    loss = f"session data did not survive the restart of redis at 2026-11-27T16:32:52Z: canary {KEY} is gone"
    assert survival(None, KNOWN, restarted=True) == judge.Survival([(FAIL, loss)], loss=loss)


def test_canary_recreated_after_a_restart_by_another_vigil_is_a_loss_too() -> None:
    """Two Vigils share the canary: the first to run after the restart finds it gone and creates the next one
    (under the new run_id); the second must not take that one for a survivor."""
    loss = (
        "session data did not survive the restart of redis at 2026-11-27T16:32:52Z: "
        f"canary {KEY} was gone and has been re-created since (by another Vigil sharing it)"
    )
    assert survival(f"{B}:22222222", KNOWN, restarted=True) == judge.Survival([(FAIL, loss)], loss=loss)
    # Created under a process between the one this Vigil saw and the current one: gone in a restart all the same.
    assert survival(f"{'c' * 40}:3", KNOWN, restarted=True).loss == loss


def test_canary_gone_without_a_restart_warns() -> None:
    result = survival(None, KNOWN, restarted=False)
    assert result == judge.Survival([(WARN, f"canary {KEY} vanished without a restart (evicted or deleted)")])
    assert result.loss is None  # evicted or deleted: seen again next run if it recurs, so nothing to latch
    recreated = survival(f"{A}:22222222", KNOWN, restarted=False)
    assert recreated == judge.Survival(
        [
            (
                WARN,
                f"canary {KEY} vanished without a restart (evicted or deleted) "
                "and has been re-created since (by another Vigil sharing it)",
            )
        ]
    )


def test_canary_recreated_before_a_restart_survived_it() -> None:
    """Deleted and re-created under the process this Vigil saw last, then carried over a restart (AOF): what was
    lost was lost before the restart, which itself lost nothing."""
    result = survival(f"{A}:22222222", KNOWN, restarted=True)
    assert result.loss is None and result.findings[0][0] is WARN


def test_canary_that_outlived_the_restart_survived() -> None:
    assert survival(KNOWN, KNOWN, restarted=True) == judge.Survival([], note="canary survived a redis restart")


def test_a_failover_is_named_as_such_not_as_a_restart() -> None:
    """Behind Sentinel the checks move to the promoted replica: a new process, but nothing restarted. A replicated
    canary survived the failover; a canary the replica never got was lost in it."""
    moved = judge.Failover("10.0.0.1:6379", "10.0.0.2:6379")
    kept = judge.survival(KEY, KNOWN, KNOWN, last_run_id=A, restarted=True, started_at=0.0, failover=moved)
    assert kept == judge.Survival([], note="canary survived the failover from 10.0.0.1:6379 to 10.0.0.2:6379")
    lost = judge.survival(KEY, None, KNOWN, last_run_id=A, restarted=True, started_at=0.0, failover=moved)
    loss = f"session data did not survive the failover from 10.0.0.1:6379 to 10.0.0.2:6379: canary {KEY} is gone"
    assert lost == judge.Survival([(FAIL, loss)], loss=loss)


def test_the_identity_tells_a_failover_from_a_restart() -> None:
    first = ServerIdentity("a" * 40, 100, "10.0.0.1:6379")
    assert ServerIdentity("b" * 40, 5, "10.0.0.2:6379").moved_from(first) == "10.0.0.1:6379"
    assert ServerIdentity("b" * 40, 5, "10.0.0.1:6379").moved_from(first) is None  # restarted in place
    assert ServerIdentity("a" * 40, 101, "10.0.0.1:6379").moved_from(None) is None  # a first run


def test_canary_from_an_earlier_vigil_version_holds_only_the_run_id() -> None:
    assert judge.birth_run_id(A) == A and judge.birth_run_id(KNOWN) == A
    assert survival(A, A, restarted=True).note == "canary survived a redis restart"


# -- session_ttl: persistence ---------------------------------------------------------------------------------


def test_aof_on_and_healthy() -> None:
    info = {"aof_enabled": 1, "aof_last_write_status": "ok", "rdb_last_bgsave_status": "ok"}
    assert judge.persistence_findings(info, "") == ([], "AOF on, RDB save off")


def test_rdb_save_points_only() -> None:
    info = {"aof_enabled": 0, "rdb_last_bgsave_status": "ok"}
    assert judge.persistence_findings(info, "3600 1 300 100") == ([], "AOF off, RDB save 3600 1 300 100")


@pytest.mark.parametrize("save", ["", "  "])
def test_no_persistence_warns(save: str) -> None:
    assert judge.persistence_findings({"aof_enabled": 0}, save) == ([(WARN, NO_PERSISTENCE)], "AOF off, RDB save off")
    assert judge.save_policy_text(save) == "off"


def test_aof_write_failing_warns() -> None:
    info = {"aof_enabled": 1, "aof_last_write_status": "err", "rdb_last_bgsave_status": "ok"}
    findings, text = judge.persistence_findings(info, "")
    assert findings == [(WARN, "AOF writes are failing: recent sessions would not survive a restart")]
    assert text == "AOF on, RDB save off"


def test_aof_status_is_ignored_while_aof_is_off() -> None:
    info = {"aof_enabled": 0, "aof_last_write_status": "err", "rdb_last_bgsave_status": "ok"}
    assert judge.persistence_findings(info, "900 1") == ([], "AOF off, RDB save 900 1")


def test_rdb_bgsave_failed_warns() -> None:
    info = {"aof_enabled": 0, "rdb_last_bgsave_status": "err"}
    assert judge.persistence_findings(info, "3600 1") == (
        [(WARN, "the last RDB save failed")],
        "AOF off, RDB save 3600 1",
    )


def test_every_persistence_problem_at_once() -> None:
    info = {"aof_enabled": 1, "aof_last_write_status": "err", "rdb_last_bgsave_status": "err"}
    findings, _ = judge.persistence_findings(info, "60 1")
    assert [text for _, text in findings] == [
        "AOF writes are failing: recent sessions would not survive a restart",
        "the last RDB save failed",
    ]


def test_config_refused_is_unknown_not_off() -> None:
    """CONFIG renamed away (managed Redis): the save policy is unknown, which must never read as "no persistence"."""
    assert judge.persistence_findings({"aof_enabled": 0}, None) == ([], "AOF off, RDB save unknown (CONFIG refused)")
    assert judge.save_policy_text(None) == "unknown"


def test_a_replica_without_persistence_does_not_warn() -> None:
    """A replica reloads its dataset from its primary after a restart; its own disk is not what keeps sessions."""
    assert judge.persistence_findings({"aof_enabled": 0}, "", replica=True) == ([], "AOF off, RDB save off")
    failing = {"aof_enabled": 1, "aof_last_write_status": "err"}  # a failing disk is news on a replica too
    assert judge.persistence_findings(failing, "", replica=True)[0] == [
        (WARN, "AOF writes are failing: recent sessions would not survive a restart")
    ]


def test_persistence_fields_missing_from_info() -> None:
    assert judge.persistence_findings({}, "3600 1") == ([], "AOF off, RDB save 3600 1")


# -- session_ttl: the sample ----------------------------------------------------------------------------------


def sample_of(pttls: list[int], options: RedisSessionTtl) -> judge.TtlSample:
    sample = judge.TtlSample()
    sample.add(pttls, options)
    return sample


def test_sample_classification() -> None:
    options = RedisSessionTtl(max_ttl="1h", min_ttl="10m")
    sample = sample_of([-2, -1, 3_600_000, 3_600_001, 599_999, 600_000, 1_800_000], options)
    assert sample == judge.TtlSample(sampled=6, no_expiry=1, over_max=1, under_min=1, longest_ms=3_600_001)


def test_expired_between_scan_and_pttl_is_not_sampled() -> None:
    sample = sample_of([-2, -2], RedisSessionTtl())
    assert sample == judge.TtlSample() and judge.sample_findings(sample, RedisSessionTtl()) == []


def test_sample_findings_wording() -> None:
    options = RedisSessionTtl(max_ttl="24h", min_ttl="20m", min_ttl_ratio=0.25)
    sample = judge.TtlSample(sampled=40, no_expiry=2, over_max=5, under_min=11, longest_ms=30 * 86_400_000)
    assert judge.sample_findings(sample, options) == [
        (FAIL, "2 of 40 sampled session keys (session:*) have no expiry: they never expire (a session leak)"),
        (WARN, "5 of 40 sampled session keys (session:*) have a TTL above the 24h maximum (longest 30.0 d)"),
        (WARN, "11 of 40 sampled session keys (session:*) have a TTL below the 20m minimum"),
    ]


def test_short_ttls_warn_only_past_the_ratio() -> None:
    options = RedisSessionTtl(min_ttl="20m", min_ttl_ratio=0.5)
    assert judge.sample_findings(judge.TtlSample(sampled=10, under_min=5), options) == []  # exactly at the ratio
    assert len(judge.sample_findings(judge.TtlSample(sampled=10, under_min=6), options)) == 1
    no_minimum = RedisSessionTtl()
    assert judge.sample_findings(judge.TtlSample(sampled=10, under_min=10), no_minimum) == []


def test_session_summary() -> None:
    summary = judge.session_summary(
        judge.TtlSample(sampled=50), RedisSessionTtl(), "canary survived a redis restart", "AOF on, RDB save off"
    )
    assert summary == (
        "canary TTL within tolerance; 50 sampled session keys all expire within 7d; canary survived a redis restart; "
        "persistence: AOF on, RDB save off"
    )


def test_session_summary_on_a_replica_says_it_wrote_nothing() -> None:
    mode = judge.read_only_mode("10.0.0.5:6379")
    assert mode == "replica of 10.0.0.5:6379, read-only mode: sampling only, no canary writes"
    summary = judge.session_summary(judge.TtlSample(sampled=3), RedisSessionTtl(), None, "AOF off", read_only=mode)
    assert summary == (
        "replica of 10.0.0.5:6379, read-only mode: sampling only, no canary writes; 3 sampled session keys all expire "
        "within 7d; persistence: AOF off"
    )


# -- memory ---------------------------------------------------------------------------------------------------


def test_memory_limit_falls_back_to_system_memory() -> None:
    assert judge.memory_limit(4 * 1024 * 1024, 16 * 1024**3) == (4 * 1024 * 1024, "maxmemory")
    assert judge.memory_limit(0, 16 * 1024**3) == (16 * 1024**3, "system memory")  # 0: no maxmemory
    assert judge.memory_limit(None, 0) == (None, "system memory")  # CONFIG refused and no system figure


def test_memory_at_the_fail_threshold() -> None:
    findings = judge.memory_findings(3_984_589, 4_194_304, "maxmemory", "noeviction", RedisMemory())
    assert findings == [(FAIL, "memory at 95% of maxmemory (3.8 MiB of 4.0 MiB), at or above the 95% fail threshold")]


def test_memory_without_a_limit_is_not_judged() -> None:
    assert judge.memory_findings(10_000, None, "system memory", "noeviction", RedisMemory()) == []
    assert judge.memory_utilisation(10_000, None) is None
    assert judge.memory_summary(None, "system memory", "noeviction", 0) == (
        "memory unknown, policy noeviction, 0 priority keys present"
    )


def test_policy_outside_the_allowed_set_warns() -> None:
    options = RedisMemory(allowed_policies=["noeviction", "volatile-lru"])
    assert judge.memory_findings(1, 100, "maxmemory", "allkeys-lru", options) == [
        (
            WARN,
            "maxmemory-policy allkeys-lru lets redis evict sessions and priority data under memory pressure "
            "(allowed: noeviction, volatile-lru)",
        )
    ]
    assert judge.memory_findings(1, 100, "maxmemory", None, options) == []  # CONFIG refused: unknown, no finding


def test_priority_findings_in_order() -> None:
    patterns = {"ratelimit:*": False, "flags:*": None, "jobs:*": True}
    assert judge.priority_findings(["feature:flags"], patterns) == [
        (FAIL, "priority key feature:flags missing"),
        (FAIL, "no key matches priority pattern ratelimit:*"),
        (WARN, "priority pattern flags:* not confirmed yet: no match within the scan budget"),
    ]
    assert judge.priority_findings([], {"jobs:*": True}) == []


def test_memory_summary() -> None:
    assert judge.memory_summary(0.4321, "maxmemory", "volatile-lru", 1) == (
        "memory 43% of maxmemory, policy volatile-lru, 1 priority key present"
    )
