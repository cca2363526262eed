"""The fast text writer says exactly what prometheus_client's generic path says, and /metrics negotiates formats."""

from __future__ import annotations

import gzip
import time
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from app.main import build_engine
from app.model import CheckResult, Observation, Status
from app.views.metricnames import METRICS
from app.views.metrics import build_exposition, take_snapshot
from tests.conftest import http, make_settings, reach, serve


def families(text: str) -> dict[str, tuple[str, set[tuple[str, tuple[tuple[str, str], ...], float]]]]:
    parsed = {}
    for family in text_string_to_metric_families(text):
        if family.name.startswith("vigil_"):
            samples = {(s.name, tuple(sorted(s.labels.items())), s.value) for s in family.samples}
            parsed[family.name] = (family.type, samples)
    return parsed


def busy_store() -> Any:
    checks = {f"c{i}": reach("/", severity="degraded" if i % 3 else "critical") for i in range(20)}
    settings = make_settings(
        components={
            "api": http("http://127.0.0.1:1/", **checks),
            "we-ird_2": http("http://127.0.0.1:1/", ok=reach("/")),
        }
    )
    store, _ = build_engine(settings)
    now = time.time()
    for i, state in enumerate(store.states.values()):
        for run in range(i % 4):
            status = (Status.PASS, Status.WARN, Status.FAIL)[(i + run) % 3]
            observed = (
                Observation("latency", 0.001 * i, "s"),
                Observation("rows", i, "rows"),
                Observation("flag", i % 2 == 0),
                Observation("version", "7.0"),
            )
            store.record(CheckResult(state.component, state.check, "http", status, "x", observed, now, 0.003 * i), 1.0)
    return store


def test_text_writer_matches_generate_latest() -> None:
    store = busy_store()
    exposition = build_exposition(store)
    snapshot = take_snapshot(store)
    assert exposition.collector is not None
    with exposition.collector.pinned(snapshot):
        reference = generate_latest(exposition.registry).decode()
    fast = exposition.writer.render(snapshot) + generate_latest(exposition.others).decode()
    assert families(fast) == families(reference)
    assert "vigil_build_info" in families(fast) and len(families(fast)) == len(METRICS)


async def test_metrics_negotiates_openmetrics_and_gzip(http_target: Any) -> None:
    settings = make_settings(
        defaults={"interval": "2s", "timeout": "500ms"}, components={"api": http(http_target.url, ok=reach("/ok"))}
    )
    async with serve(settings) as served:
        await served.wait(lambda: served.store.startup_complete, what="first run")
        url = served.url + "/metrics"
        async with served.session.get(url, headers={"Accept-Encoding": "identity"}) as plain:
            assert plain.headers["content-type"].startswith("text/plain; version=")
            assert "Content-Encoding" not in plain.headers
            text = await plain.text()
        async with served.session.get(url, headers={"Accept-Encoding": "gzip"}, auto_decompress=False) as zipped:
            assert zipped.headers["Content-Encoding"] == "gzip"
            unzipped = gzip.decompress(await zipped.read()).decode()
        assert families(unzipped).keys() == families(text).keys()
        accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
        async with served.session.get(url, headers={"Accept": accept}) as om:
            assert om.headers["content-type"].startswith("application/openmetrics-text")
            body = await om.text()
        assert body.endswith("# EOF\n")
        names = {f.name for f in parse_openmetrics(body)}
        assert {"vigil_check_up", "vigil_check_runs", "vigil_check_duration_seconds", "vigil_build"} <= names


def value_texts(text: str, prefix: str) -> dict[tuple[str, frozenset[str]], str]:
    """Each sample of the families starting with `prefix`: (name, label pairs) -> the value exactly as written."""
    values = {}
    for line in text.splitlines():
        if line.startswith(prefix):
            series, _, value = line.rpartition(" ")
            name, _, labels = series.partition("{")
            values[name, frozenset(labels.rstrip("}").split('",'))] = value.rstrip('"')
    return values


def test_counts_are_written_as_prometheus_client_writes_them_small_and_large() -> None:
    store = busy_store()
    states = list(store.states.values())
    states[0].runs[Status.PASS] = 2_000_000  # a million and more: Go's exponent form
    states[0].duration_counts[0] = 1_500_000
    states[1].runs[Status.FAIL] = 999_999
    exposition = build_exposition(store)
    snapshot = take_snapshot(store)
    assert exposition.collector is not None
    with exposition.collector.pinned(snapshot):
        reference = generate_latest(exposition.registry).decode()
    fast = exposition.writer.render(snapshot)
    for family in ("vigil_check_runs_total", "vigil_check_duration_seconds"):
        assert value_texts(fast, family) == value_texts(reference, family)
    assert len(value_texts(fast, "vigil_check_runs_total")) == 3 * len(states)
    assert "2e+06" in fast and "999999.0" in fast


async def test_a_snapshot_taken_in_slices_holds_what_one_taken_at_once_holds(monkeypatch: Any) -> None:
    """/metrics copies the store a slice at a time (thousands of checks must not hold the loop in one piece):
    the copy is the same, check by check, as one taken in one go."""
    from app.engine import slices
    from app.views.snapshot import snapshot_in_slices

    monkeypatch.setattr(slices, "SLICE", 0.0)  # a turn for the loop after every check
    store = busy_store()
    sliced, whole = await snapshot_in_slices(store), take_snapshot(store)
    assert len(sliced.checks) == len(store.states) > 20
    assert sliced == whole
