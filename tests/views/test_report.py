"""The health+json document: the encoded form the API sends (per-check members memoized) is the document, byte
for byte, whatever changed between two requests."""

from __future__ import annotations

import json
import time
from typing import Any

from app.engine.store import Store
from app.main import build_engine
from app.model import CheckId, CheckResult, Observation, Status
from app.views.report import EntryMemo, encode, encoded_health, health_document
from tests.conftest import http, make_settings, reach


def _store() -> Store:
    settings = make_settings(
        components={
            "db": http("http://127.0.0.1:1/", up=reach("/")),
            "api": {**http("http://127.0.0.1:1/", a=reach("/"), b=reach("/")), "depends_on": ["db"]},
        }
    )
    store, _ = build_engine(settings)
    return store


def _record(store: Store, component: str, check: str, status: Status, output: str, mono: float = 1.0) -> None:
    observed = (Observation("latency", 0.002, "s"), Observation("server", "nginx é"))
    store.record(CheckResult(component, check, "http", status, output, observed, time.time(), 0.002), mono)


def _same(store: Store, memo: EntryMemo, **kwargs: Any) -> bytes:
    """Asserts the encoded body equals the document as Starlette's JSONResponse would encode it."""
    states = list(store.states.values())
    status, body = encoded_health(store, states, memo, **kwargs)
    expected_status, document = health_document(store, states, **kwargs)
    assert status == expected_status
    assert body == encode(document).encode()
    assert json.loads(body) == document
    return body


def test_the_encoded_document_follows_every_change() -> None:
    store, memo = _store(), EntryMemo()
    _same(store, memo, details=True)  # all pending
    _record(store, "db", "up", Status.PASS, "200 OK")
    _record(store, "api", "a", Status.PASS, "200 OK")
    _record(store, "api", "b", Status.PASS, "200 OK")
    first = _same(store, memo, details=True, group="area")
    assert json.loads(first)["status"] == "pass"

    # A new result for one check; the dependency failing adds `affectedBy` to a failing dependent only.
    for _ in range(3):
        _record(store, "db", "up", Status.FAIL, "connection refused")
        _record(store, "api", "a", Status.FAIL, "502 Bad Gateway")
    body = _same(store, memo, details=True)
    checks = json.loads(body)["checks"]
    assert checks["api:a"][0]["affectedBy"] == ["db"]
    assert "affectedBy" not in checks["api:b"][0]

    # The dependency recovers without api:a running again: its member must lose `affectedBy`.
    _record(store, "db", "up", Status.PASS, "200 OK")
    body = _same(store, memo, details=True)
    assert "affectedBy" not in json.loads(body)["checks"]["api:a"][0]

    # Staleness changes the output without a new result.
    store.mark_stale(10_000.0)
    body = _same(store, memo, details=True)
    assert json.loads(body)["checks"]["api:b"][0]["output"].startswith("stale:")

    # Without details: no members at all.
    assert set(json.loads(_same(store, memo, details=False))) == {"status"}
    assert "checks" not in json.loads(_same(store, memo, details=False, group="area"))["areas"]["communication"]


def test_members_of_checks_that_did_not_run_are_reused() -> None:
    store, memo = _store(), EntryMemo()
    for check in ("a", "b"):
        _record(store, "api", check, Status.PASS, "200 OK")
    states = list(store.states.values())
    encoded_health(store, states, memo, details=True)
    now = time.time()
    before = {s.check_id: memo.member(store, s, now) for s in states}
    _record(store, "api", "a", Status.PASS, "201 Created")
    after = {s.check_id: memo.member(store, s, now) for s in states}
    assert after[CheckId("api", "b")] is before[CheckId("api", "b")]
    assert after[CheckId("api", "a")] is not before[CheckId("api", "a")]
    assert b"201 Created" in after[CheckId("api", "a")]
