"""The result store: kubelet-style hysteresis, staleness, readiness flag, availability windows, transitions."""

from __future__ import annotations

import re
import time
from dataclasses import replace

from app.checks import COMPONENT_TYPES
from app.config.fields import Schedule, Severity
from app.config.specs import CheckSpec
from app.engine.history import History
from app.engine.store import Store
from app.model import CheckId, CheckResult, Status


def schedule(severity: Severity = Severity.CRITICAL, failure: int = 3, success: int = 1) -> Schedule:
    return Schedule(
        interval=10.0,
        timeout=2.0,
        initial_delay=0.0,
        failure_threshold=failure,
        success_threshold=success,
        severity=severity,
    )


def make_store(**checks: Schedule) -> Store:
    """A store over redis connectivity checks named `component__check`, with the given schedules."""
    redis = COMPONENT_TYPES["redis"]
    kind = redis.kind("connectivity")
    component = redis.config(type="redis")
    specs = [
        CheckSpec(CheckId(*name.split("__")), redis, component, kind, kind.options(), sched)
        for name, sched in checks.items()
    ]
    return Store(specs)


def result(check_id: str, status: Status, output: str = "", at: float | None = None) -> CheckResult:
    component, check = check_id.split(":")
    return CheckResult(component, check, "redis", status, output or status.value, (), at or time.time(), 0.01)


def feed(store: Store, check_id: str, *statuses: Status, mono: float = 0.0) -> list[str | None]:
    """Record results; return the effective state name after each."""
    seen = []
    for status in statuses:
        store.record(result(check_id, status), mono)
        component, check = check_id.split(":")
        seen.append(store.states[(component, check)].state_name)
    return seen


P, W, F = Status.PASS, Status.WARN, Status.FAIL


def test_failure_threshold_and_success_threshold() -> None:
    store = make_store(c__x=schedule(failure=3, success=2))
    # Never ok yet: the first fail is reported at once; ok needs 2 passes in a row.
    assert feed(store, "c:x", F, P, P) == ["fail", "fail", "pass"]
    # Ok now: 2 fails are absorbed, the 3rd flips; a single pass is not enough to come back.
    assert feed(store, "c:x", F, F, F, P, F, P, P) == ["pass", "pass", "fail", "fail", "fail", "fail", "pass"]
    state = store.states[("c", "x")]
    assert state.last is not None and state.last.status is P
    assert state.consecutive_failures == 0 and state.consecutive_successes == 2


def test_warn_counts_as_ok_and_is_reported_directly() -> None:
    store = make_store(c__x=schedule(failure=2))
    assert feed(store, "c:x", P, W, P, F, W) == ["pass", "warn", "pass", "pass", "warn"]


def test_readiness_only_gated_by_critical_checks() -> None:
    store = make_store(c__crit=schedule(failure=1), c__data=schedule(Severity.DEGRADED, failure=1))
    assert store.ready is False and store.startup_complete is False
    feed(store, "c:crit", P)
    assert store.ready is True  # degraded check still pending: does not gate
    assert store.startup_complete is False
    feed(store, "c:data", F)
    assert store.ready is True and store.startup_complete is True
    feed(store, "c:crit", F)
    assert store.ready is False
    feed(store, "c:crit", P)
    assert store.ready is True
    store.begin_shutdown()
    assert store.ready is False


def test_stale_result_counts_as_failed() -> None:
    store = make_store(c__x=schedule(failure=1))
    feed(store, "c:x", P, mono=100.0)
    stale_after = store.states[("c", "x")].schedule.stale_after  # 2 * 10 + 2
    assert store.mark_stale(100.0 + stale_after - 0.1) == []
    assert store.ready is True
    [transition] = store.mark_stale(100.0 + stale_after + 0.1)
    assert (transition.old, transition.new) == ("pass", "fail")
    assert transition.reason.startswith("stale: no result for over 22s")
    assert store.ready is False
    assert store.mark_stale(500.0) == []  # reported once
    feed(store, "c:x", P, mono=501.0)
    assert store.ready is True and store.states[("c", "x")].stale is False


def test_transitions_are_recorded_once_per_change() -> None:
    store = make_store(c__x=schedule(failure=1))
    feed(store, "c:x", P, P, F, F, P)
    transitions = [(t.old, t.new) for t in store.states[("c", "x")].transitions]
    assert transitions == [("pending", "pass"), ("pass", "fail"), ("fail", "pass")]
    assert [str(t.check_id) for t in store.recent_transitions()] == ["c:x"] * 3


def test_runs_and_duration_histogram() -> None:
    store = make_store(c__x=schedule())
    feed(store, "c:x", P, F, W, P)
    state = store.states[("c", "x")]
    assert state.runs == {P: 2, W: 1, F: 1}
    assert sum(state.duration_counts) == 4
    assert abs(state.duration_sum - 0.04) < 1e-9


def test_availability_windows_slide() -> None:
    history = History(3600.0)
    for i in range(3600):  # one run per second for an hour; only the last 5 minutes failed
        history.add(float(i), Status.PASS if i < 3300 else Status.FAIL)
    ratios = history.ratios(3599.0)
    assert ratios == {"5m": 0.0, "1h": 3300 / 3600}
    assert history.ratios(3659.0) == {"5m": 0.0, "1h": 3240 / 3540}  # a minute on, no run: the oldest slot left
    assert history.ratios(10_000.0) == {"5m": None, "1h": None}
    history.add(10_000.0, Status.WARN)
    assert history.ratios(10_000.0) == {"5m": 1.0, "1h": 1.0}


def test_history_memory_is_constant_whatever_the_interval() -> None:
    history = History(86400.0)
    assert set(history.windows) == {"5m", "1h", "24h"}
    size = sum(len(c) * c.itemsize for c in history.counts.values())
    for i in range(200_000):  # 200,000 runs, 4 a second
        history.add(i / 4, Status.FAIL if i % 4 == 0 else Status.PASS)
    assert sum(len(c) * c.itemsize for c in history.counts.values()) == size == 1440 * 3 * 2
    assert history.ratios(199_999 / 4) == {"5m": 0.75, "1h": 0.75, "24h": 0.75}


def test_cells_for_a_status_bar() -> None:
    history = History(86400.0)
    history.add(100.0, Status.PASS)
    history.add(4000.0, Status.WARN)
    history.add(4001.0, Status.FAIL)
    cells = history.cells(86399.0, 24)
    assert len(cells) == 24 and cells[0].start == 0.0 and cells[-1].end == 86400.0
    assert (cells[0].passed, cells[0].worst) == (1, Status.PASS)
    assert (cells[1].warned, cells[1].failed, cells[1].worst) == (1, 1, Status.FAIL)
    assert all(c.worst is None for c in cells[2:])


def test_a_latched_failure_is_reported_at_once_and_held() -> None:
    """Data lost in a restart is seen once: the store reports it past hysteresis and holds it for
    failure_threshold runs in all, each of them failing with the reason first, then lets go."""
    store = make_store(c__x=schedule(failure=3))
    feed(store, "c:x", P)
    lost = replace(result("c:x", F, "data lost; disk almost full"), latch="data lost")
    kept, transition = store.record(lost, 1.0)
    assert kept is lost and store.states[("c", "x")].reported is F  # at once, not after 3 failures
    assert transition is not None and (transition.old, transition.new) == ("pass", "fail")
    held, _ = store.record(result("c:x", W, "disk almost full"), 2.0)
    assert (held.status, held.output, held.latch) == (F, "data lost; disk almost full", "data lost")
    held, _ = store.record(result("c:x", P, "all good"), 3.0)
    assert (held.status, held.output) == (F, "data lost")
    free, transition = store.record(result("c:x", P, "all good"), 4.0)
    assert (free.status, free.output, free.latch) == (P, "all good", None)
    assert store.states[("c", "x")].reported is P and transition is not None


def test_memory_per_check_stays_flat_over_a_day_of_runs() -> None:
    """The store keeps constant memory per check whatever the run count: after warm-up, 100,000 more runs
    spread over more than a day (the ring wraps) allocate nothing that stays."""
    import tracemalloc

    store = make_store(**{f"c__x{i}": schedule(failure=1) for i in range(20)})
    ids = [f"c:x{i}" for i in range(20)]

    def run(first: int, count: int) -> None:
        for n in range(first, first + count):
            check_id = ids[n % len(ids)]
            status = (P, W, F)[n % 7 % 3]
            store.record(result(check_id, status, at=1_000_000.0 + n * 0.9), float(n))

    run(0, 20_000)
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        run(20_000, 100_000)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename") if stat.size_diff > 0)
    assert grown < 64 * 1024, f"{grown} bytes kept after 100,000 runs"


def _limited(check_id: str, status: Status, value: float, at: float) -> CheckResult:
    from app.model import Limit, Observation

    component, check = check_id.split(":")
    observed = (Observation("memory_utilisation", value, "ratio", Limit(0.95, "maxmemory")),)
    return CheckResult(component, check, "redis", status, "memory fine", observed, at, 0.01)


def test_a_passing_check_heading_for_its_limit_warns_with_a_forecast() -> None:
    store = make_store(c__x=schedule(failure=1))
    kept = None
    for i in range(120):  # +9%/h for two hours, one run a minute
        kept, _ = store.record(_limited("c:x", P, 0.44 + 0.09 * i / 60, 1_000_000.0 + 60 * i), 60.0 * i)
    assert kept is not None and kept.status is W
    assert re.fullmatch(
        r"memory utilisation reaches maxmemory in about 3 h 4\d min at the current rate \(62% now, \+9%/h over the "
        r"last 2h\); memory fine",
        kept.output,
    ), kept.output
    state = store.states[("c", "x")]
    assert state.forecast is not None and state.forecast.measure == "memory_utilisation"
    assert store.ready  # a warn never gates readiness
    # A failing check gets no forecast; the next passing one has it again.
    failed, _ = store.record(_limited("c:x", F, 0.63, 1_000_000.0 + 60 * 120), 60.0 * 120)
    assert failed.status is F and state.forecast is None and "reaches" not in failed.output


def test_a_wall_clock_step_back_keeps_a_live_forecast() -> None:
    """NTP steps the wall clock back an hour mid-series: the forecast runs on the monotonic clock, so it is
    neither withdrawn nor bent (the wall-clock series would have held "future" points for a whole window)."""
    store = make_store(c__x=schedule(failure=1))
    kept = None
    for i in range(120):
        wall = 1_000_000.0 + 60 * i - (3600 if i >= 90 else 0)
        kept, _ = store.record(_limited("c:x", P, 0.44 + 0.09 * i / 60, wall), 60.0 * i)
    assert kept is not None and kept.status is W, kept
    assert re.search(r"reaches maxmemory in about 3 h 4\d min .*\+9%/h", kept.output), kept.output


def test_no_forecast_when_flat_or_turned_off() -> None:
    store = make_store(c__x=schedule(failure=1))
    for i in range(120):
        kept, _ = store.record(_limited("c:x", P, 0.5, 1_000_000.0 + 60 * i), 60.0 * i)
    assert kept.status is P and store.states[("c", "x")].forecast is None
