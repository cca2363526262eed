"""The readiness rule, once: /readyz, its verbose form, /health, the metrics and `vigil check` agree on every state."""

from __future__ import annotations

import itertools
import json
import time
import xml.etree.ElementTree as ET

import pytest

from app.api.probes import _readiness
from app.config.fields import Severity
from app.engine.readiness import counts_as, verdict
from app.main import build_engine
from app.model import CheckId, CheckResult, Status
from app.views.gate import junit_xml, table
from app.views.metrics import take_snapshot
from app.views.report import health_document, overall, verbose_lines
from app.views.statusview import readiness_view
from tests.conftest import http, make_settings, reach

STATES = (Status.PASS, Status.WARN, Status.FAIL, None)  # None: pending, no result yet


def test_counts_as() -> None:
    assert counts_as(None, Severity.CRITICAL) is Status.FAIL
    assert counts_as(None, Severity.DEGRADED) is Status.WARN
    assert counts_as(Status.FAIL, Severity.DEGRADED) is Status.WARN
    assert counts_as(Status.FAIL, Severity.DEGRADED, strict=True) is Status.FAIL
    assert counts_as(Status.WARN, Severity.CRITICAL) is Status.WARN
    assert verdict([]) is Status.PASS
    assert verdict([(Status.PASS, Severity.CRITICAL), (Status.WARN, Severity.DEGRADED)]) is Status.WARN


def _store_with(state: Status | None, severity: Severity):  # type: ignore[no-untyped-def]
    """One healthy critical check beside the check under test, whose state is `state`."""
    checks = {"steady": reach("/"), "probe": reach("/", severity=severity.value)}
    settings = make_settings(components={"api": http("http://127.0.0.1:1/", **checks)})
    store, _ = build_engine(settings)
    now = time.time()
    store.record(CheckResult("api", "steady", "http", Status.PASS, "ok", (), now, 0.01), 1.0)
    if state is not None:
        store.record(CheckResult("api", "probe", "http", state, f"it is {state}", (), now, 0.01), 1.0)
        store.states[CheckId("api", "probe")].reported = state  # the state after hysteresis, whatever it took
        store._recompute_ready()
    return store


@pytest.mark.parametrize(("state", "severity", "strict"), list(itertools.product(STATES, Severity, (False, True))))
def test_every_reader_gives_the_same_verdict(state: Status | None, severity: Severity, strict: bool) -> None:
    store = _store_with(state, severity)
    states = list(store.states.values())
    failing = state in (Status.FAIL, None)
    expected_ready = not (failing and (severity is Severity.CRITICAL or strict))

    # `vigil check [--strict]`: the exit status and the JSON document come from the same verdict.
    cli_ready = overall(states, strict=strict).ok
    status_code, document = health_document(store, states, details=True, strict=strict)
    assert cli_ready is expected_ready
    assert (status_code == 200) is expected_ready
    assert (document["status"] != "fail") is expected_ready
    assert verbose_lines(states, set(), strict=strict)[0] is expected_ready

    # `vigil check`'s table and JUnit: the summary line, the probe's row and its testcase follow the same rule.
    gate_blocks = not expected_ready  # the steady check passes: only the probe can block
    summary = table(store, states, 0.5, strict=strict).splitlines()[-1]
    assert summary.startswith("READY: " if expected_ready else "NOT READY: api:probe blocks readiness; ")
    warns = state is Status.WARN or (failing and expected_ready)
    counted = (
        "2 of 2 checks ok" if state is Status.PASS else "1 of 2 checks ok, 1 warns" if warns else "1 of 2 checks ok"
    )
    assert f"; {counted}, in 500 ms" in summary or summary == f"READY: {counted}, in 500 ms"
    row = next(line for line in table(store, states, 0.5, strict=strict).splitlines() if "api:probe" in line)
    assert row.split()[1] == ("-" if state is None else state.upper())
    suites = ET.fromstring(junit_xml(store, states, 0.5, strict=strict).split("\n", 1)[1])
    assert suites.get("failures") == str(int(gate_blocks))
    probe = next(case for case in suites.iter("testcase") if case.get("name") == "probe")
    assert (probe.find("failure") is not None) is gate_blocks
    if state is Status.FAIL and not gate_blocks:  # a failing degraded check is said, not failed
        assert (probe.findtext("system-out") or "").startswith("failed (degraded: does not gate readiness)")
    # The status page's readiness card.
    view = readiness_view(store, states)
    assert view["ready"] is expected_ready or strict
    if not strict:
        assert [b["id"] for b in view["blocking"]] == ([] if expected_ready else ["api:probe"])

    if strict:  # a named part of the system: every check gates
        assert (_readiness(store, None, [], "api", None).status_code == 200) is expected_ready
        assert (_readiness(store, "", [], "api", None).status_code == 200) is expected_ready
        assert (health_document(store, store.component("api"), details=False, strict=True)[0] == 200) is expected_ready
    else:  # the whole system: /readyz, its verbose form, /health, vigil_ready
        assert store.ready is expected_ready
        assert (_readiness(store, None, [], None, None).status_code == 200) is expected_ready
        verbose = _readiness(store, "", [], None, None)
        assert (verbose.status_code == 200) is expected_ready
        assert json.dumps(bytes(verbose.body).decode()).count("readyz check passed") == int(expected_ready)
        assert (health_document(store, states, details=False)[0] == 200) is expected_ready
        assert take_snapshot(store).ready is expected_ready


def test_shutting_down_is_not_ready_in_every_reader() -> None:
    """The readiness rule says it once; /readyz, its verbose form, the page's card and vigil_ready follow."""
    store = _store_with(Status.PASS, Severity.CRITICAL)
    assert store.ready
    store.begin_shutdown()
    states = list(store.states.values())
    assert not store.ready
    assert verdict([(Status.PASS, Severity.CRITICAL)], shutting_down=True) is Status.FAIL
    assert _readiness(store, None, [], None, None).status_code == 503
    verbose = _readiness(store, "", [], None, None)
    assert bytes(verbose.body).decode().splitlines()[-2:] == [
        "[-]shutdown failed: shutting down",
        "readyz check failed",
    ]
    assert readiness_view(store, states)["reason"] == "not ready: Vigil is shutting down"
    assert take_snapshot(store).ready is False
    # A named part is judged on its own checks (a component's readiness, as before).
    assert _readiness(store, "", [], "api", None).status_code == 200
