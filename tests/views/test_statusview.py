"""The status page's view model (app/views/statusview.py): pure functions over a store, no server, no clock."""

from __future__ import annotations

import json

import pytest

from app.checks import COMPONENT_TYPES
from app.config.fields import Schedule, Severity
from app.config.specs import CheckSpec
from app.engine.history import History
from app.engine.readiness import is_ready
from app.engine.store import Store
from app.model import CheckId, CheckResult, Status
from app.views.statusview import BAR_CELLS, RowMemo, bar, build, check_view, readiness_view

NOW = 1_800_000_000.0 + 1000.0  # 16:40 past a half-hour boundary (1_800_000_000 is one)
CELL = 1800.0
P, W, F = Status.PASS, Status.WARN, Status.FAIL


def schedule(severity: Severity = Severity.CRITICAL) -> Schedule:
    return Schedule(
        interval=10.0, timeout=2.0, initial_delay=0.0, failure_threshold=1, success_threshold=1, severity=severity
    )


def make_store(*checks: str, degraded: tuple[str, ...] = ()) -> Store:
    """A store over redis connectivity checks named `component:check`."""
    redis = COMPONENT_TYPES["redis"]
    kind = redis.kind("connectivity")
    component = redis.config(type="redis")
    specs = []
    for name in checks:
        severity = Severity.DEGRADED if name in degraded else Severity.CRITICAL
        specs.append(CheckSpec(CheckId(*name.split(":")), redis, component, kind, kind.options(), schedule(severity)))
    return Store(specs)


def record(
    store: Store,
    name: str,
    status: Status,
    output: str = "",
    at: float = NOW,
    duration: float = 0.002,
    scheduled: bool = True,
) -> None:
    component, check = name.split(":")
    result = CheckResult(
        component, check, "redis", status, output or status.value, (), at - duration, duration, scheduled
    )
    store.record(result, 0.0)


# -- the bar ------------------------------------------------------------------------------------------------


def test_bar_is_48_aligned_cells_with_the_worst_result_of_each() -> None:
    history = History(86400)
    history.add(NOW - 10, P)
    history.add(NOW - 5, F)  # the current cell: one pass, one fail
    history.add(NOW - 3 * 3600, W)  # six cells back
    history.add(NOW - 3 * 3600 + 60, P)
    for hours in range(4, 20):
        history.add(NOW - hours * 3600, P)
    result = bar(history, NOW)
    end = (NOW // CELL + 1) * CELL  # the current cell ends at the next boundary
    assert (result.start, result.cell_seconds) == (end - BAR_CELLS * CELL, CELL)
    assert len(result.code) == BAR_CELLS
    assert result.code[-1] == "f"
    assert result.code[-7] == "w"
    assert result.code.count("p") == 16
    assert result.code[:8] == "-" * 8  # no run older than 20 hours
    assert result.problems == ((41, 2, 1, 0), (47, 2, 0, 1))  # (cell, runs, warned, failed)


def test_bar_moves_only_when_a_new_cell_starts() -> None:
    history = History(86400)
    history.add(NOW - 10, F)
    same = bar(history, NOW + 60)
    assert same == bar(history, NOW)
    later = bar(history, NOW + CELL)
    assert later.start == bar(history, NOW).start + CELL
    assert later.code.endswith("f-")


def test_bar_over_a_short_history() -> None:
    history = History(3600)  # 60 slots of a minute: 48 cells of one minute
    history.add(NOW - 30, P)
    result = bar(history, NOW)
    assert result.cell_seconds == 60.0 and len(result.code) == BAR_CELLS
    assert result.code == "-" * 47 + "p"


# -- the per-check memo -----------------------------------------------------------------------------------


def test_memo_recomputes_only_after_a_new_result_or_when_time_moves_on() -> None:
    store = make_store("cache:ping")
    state = store.states[CheckId("cache", "ping")]
    record(store, "cache:ping", P, at=NOW - 5)
    memo = RowMemo()
    first, ratios = memo.bar(state, NOW), memo.availability(state, NOW)
    assert memo.bar(state, NOW + 1) is first
    assert memo.availability(state, NOW + 1) is ratios
    record(store, "cache:ping", F, at=NOW + 2)
    assert memo.bar(state, NOW + 3) is not first
    assert memo.bar(state, NOW + 3).code[-1] == "f"
    assert memo.availability(state, NOW + 3) == {"5m": 0.5, "1h": 0.5, "24h": 0.5}
    # Time alone: availability per history slot (a minute), the bar per cell (half an hour).
    again = memo.availability(state, NOW + 3)
    assert memo.availability(state, NOW + 120) is not again
    bar_now = memo.bar(state, NOW + 3)
    assert memo.bar(state, NOW + 120) is bar_now
    assert memo.bar(state, NOW + CELL) is not bar_now


# -- one check --------------------------------------------------------------------------------------------


def test_check_view_shows_outputs_of_non_passing_checks_only_with_details() -> None:
    store = make_store("cache:ping", "cache:pool")
    record(store, "cache:ping", P, "PONG in 0.3 ms", duration=0.0003)
    record(store, "cache:pool", F, "pool exhausted: 4 of 4 in use", duration=0.5, scheduled=False)
    memo = RowMemo()
    views = {}
    for details in (True, False):
        for state in store.states.values():
            views[state.check, details] = check_view(
                state, memo.bar(state, NOW), memo.availability(state, NOW), details=details
            )
    failing = views["pool", True]
    assert failing["output"] == "pool exhausted: 4 of 4 in use"
    assert views["pool", False]["output"] is None
    assert views["ping", True]["output"] is None  # a passing check's output is not sent
    assert failing == {
        "id": "cache:pool",
        "name": "pool",
        "state": "fail",
        "severity": "critical",
        "stale": False,
        "lastRun": NOW,
        "onDemand": True,
        "failures": 1,
        "output": "pool exhausted: 4 of 4 in use",
        "unconfirmed": None,
        "maintenance": None,
        "availability": {"5m": 0.0, "1h": 0.0, "24h": 0.0},
        "bar": "-" * 47 + "f",
        "barProblems": [[47, 1, 0, 1]],
        "durations": [500.0],
    }
    assert views["ping", True]["durations"] == [0.3]  # milliseconds


def test_a_pending_check_is_pending_with_an_empty_bar() -> None:
    store = make_store("cache:ping")
    state = store.states[CheckId("cache", "ping")]
    memo = RowMemo()
    view = check_view(state, memo.bar(state, NOW), memo.availability(state, NOW), details=True)
    assert (view["state"], view["lastRun"], view["output"]) == ("pending", None, "pending: not run yet")
    assert view["bar"] == "-" * BAR_CELLS and view["durations"] == []
    assert view["availability"] == {"5m": None, "1h": None, "24h": None}


# -- readiness and why ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("results", "ready", "status", "reason", "blocking", "warning"),
    [
        ({"a:x": P, "a:y": P}, True, "pass", "ready: every critical check passes", [], []),
        (
            {"a:x": P, "a:y": W},
            True,
            "warn",
            "ready, with problems: 1 check warns or fails without gating readiness: a:y",
            [],
            ["a:y"],
        ),
        (
            {"a:x": P, "a:y": F},
            False,
            "fail",
            "not ready: 1 critical check not passing: a:y (failing)",
            [{"id": "a:y", "state": "fail"}],
            [],
        ),
        (
            {"a:x": P},
            False,
            "fail",
            "not ready: 1 critical check not passing: a:y (not run yet)",
            [{"id": "a:y", "state": "pending"}],
            [],
        ),
        (
            {"a:x": P, "a:y": P, "b:slow": F},
            True,
            "warn",
            "ready, with problems: 1 check warns or fails without gating readiness: b:slow",
            [],
            ["b:slow"],
        ),
    ],
)
def test_readiness_follows_the_one_rule(
    results: dict[str, Status],
    ready: bool,
    status: str,
    reason: str,
    blocking: list[dict[str, str]],
    warning: list[str],
) -> None:
    store = make_store("a:x", "a:y", "b:slow", degraded=("b:slow",))
    record(store, "b:slow", P)
    for name, result in results.items():
        record(store, name, result)
    states = list(store.states.values())
    view = readiness_view(store, states)
    assert view == {
        "ready": ready,
        "status": status,
        "reason": reason,
        "since": round(store.verdict_since, 3),
        "blocking": blocking,
        "warning": warning,
        "unconfirmed": [],
        "starting": "a:y" not in results,
    }
    # What /readyz says, and what the readiness rule says, agree with the page.
    assert view["ready"] is store.ready is is_ready((s.effective, s.severity) for s in states)


def test_readiness_names_a_few_failing_checks_and_counts_the_rest() -> None:
    names = [f"svc:c{i}" for i in range(6)]
    store = make_store(*names)
    for name in names:
        record(store, name, F)
    view = readiness_view(store, list(store.states.values()))
    assert view["reason"] == (
        "not ready: 6 critical checks not passing: svc:c0 (failing), svc:c1 (failing), svc:c2 (failing) and 3 more"
    )
    assert len(view["blocking"]) == 6


def test_readiness_while_shutting_down() -> None:
    store = make_store("a:x")
    record(store, "a:x", P)
    store.begin_shutdown()
    view = readiness_view(store, list(store.states.values()))
    assert (view["ready"], view["reason"]) == (False, "not ready: Vigil is shutting down")


def test_no_checks_is_ready() -> None:
    store = make_store()
    document = build(store, NOW, details=True, memo=RowMemo(), runs_enabled=False, show_details="always")
    assert document["readiness"]["reason"] == "ready: no checks configured"
    assert (document["components"], document["bar"], document["total"]) == ([], None, 0)


# -- the whole document -----------------------------------------------------------------------------------


def test_document_counts_components_transitions_and_detail_levels() -> None:
    store = make_store("cache:ping", "cache:memory", "db:ping", "db:rollup", degraded=("cache:memory", "db:rollup"))
    record(store, "cache:ping", P, "PONG")
    record(store, "cache:memory", W, "fragmentation 1.9")
    record(store, "db:ping", F, "connection refused")
    memo = RowMemo()
    detailed = build(store, NOW, details=True, memo=memo, runs_enabled=True, show_details="when_authorized")
    hidden = build(store, NOW, details=False, memo=memo, runs_enabled=True, show_details="when_authorized")
    json.dumps(detailed, allow_nan=False)
    assert detailed["counts"] == {"pass": 1, "warn": 1, "fail": 1, "pending": 1}
    assert detailed["total"] == 4
    assert (detailed["version"], detailed["generated"], detailed["details"]) == (store.version, NOW, True)
    assert (detailed["runsEnabled"], detailed["showDetails"]) == (True, "when_authorized")
    assert detailed["bar"] == {"start": (NOW // CELL + 1 - BAR_CELLS) * CELL, "cellSeconds": CELL, "cells": BAR_CELLS}
    # Components in config order, each with its own worst state (as /health/{component} reports it).
    assert [(c["name"], c["type"], c["status"]) for c in detailed["components"]] == [
        ("cache", "redis", "warn"),
        ("db", "redis", "fail"),
    ]
    assert [c["id"] for c in detailed["components"][1]["checks"]] == ["db:ping", "db:rollup"]
    # Transitions newest first, with reasons only with details.
    assert [(t["check"], t["from"], t["to"]) for t in detailed["transitions"]] == [
        ("db:ping", "pending", "fail"),
        ("cache:memory", "pending", "warn"),
        ("cache:ping", "pending", "pass"),
    ]
    assert detailed["transitions"][0]["reason"] == "connection refused"
    assert all(t["reason"] is None for t in hidden["transitions"])
    outputs = {c["id"]: c["output"] for comp in hidden["components"] for c in comp["checks"]}
    assert set(outputs.values()) == {None}
    outputs = {c["id"]: c["output"] for comp in detailed["components"] for c in comp["checks"]}
    assert outputs == {
        "cache:ping": None,
        "cache:memory": "fragmentation 1.9",
        "db:ping": "connection refused",
        "db:rollup": "pending: not run yet",
    }
    assert detailed["readiness"]["blocking"] == [{"id": "db:ping", "state": "fail"}]
