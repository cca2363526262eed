"""Which outage explains a failing check (app/views/causes.py), and the series that carries it to Alertmanager."""

from __future__ import annotations

import time

from app.main import build_engine
from app.model import CheckResult, Status
from app.views.causes import root_cause
from app.views.metrics import build_exposition, take_snapshot
from tests.conftest import make_settings

REDIS = {"type": "redis", "url": "redis://127.0.0.1:1/0"}


def store_with(failing: set[str]) -> object:
    settings = make_settings(
        defaults={"failure_threshold": 1},
        components={
            "cache": {**REDIS, "checks": {"connectivity": {}}},
            "sessions": {**REDIS, "depends_on": ["cache"], "checks": {"connectivity": {}}},
            "api": {**REDIS, "depends_on": ["sessions"], "checks": {"connectivity": {}}},
        },
    )
    store, _ = build_engine(settings)
    for state in store.states.values():
        status = Status.FAIL if state.component in failing else Status.PASS
        store.record(CheckResult(state.component, state.check, "redis", status, "x", (), time.time(), 0.01), 1.0)
    return store


def test_the_root_cause_is_followed_through_depends_on() -> None:
    store = store_with({"cache", "sessions", "api"})
    causes = {state.component: root_cause(store, state) for state in store.states.values()}  # type: ignore[attr-defined]
    assert causes == {"cache": "cache", "sessions": "cache", "api": "cache"}


def test_a_dependency_that_passes_explains_nothing() -> None:
    store = store_with({"api", "cache"})  # sessions passes: api's failure is its own
    causes = {state.component: root_cause(store, state) for state in store.states.values()}  # type: ignore[attr-defined]
    assert causes["api"] == "api" and causes["cache"] == "cache"


def test_the_cause_series_exists_only_while_failing() -> None:
    store = store_with({"cache", "sessions"})
    exposition = build_exposition(store)  # type: ignore[arg-type]
    text = exposition.writer.render(take_snapshot(store))  # type: ignore[arg-type]
    lines = sorted(line for line in text.splitlines() if line.startswith("vigil_check_cause{"))
    assert lines == [
        'vigil_check_cause{check="connectivity",component="cache",cause="cache",root="true"} 1.0',
        'vigil_check_cause{check="connectivity",component="sessions",cause="cache",root="false"} 1.0',
    ]
