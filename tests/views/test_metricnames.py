"""One table of metric families: the collector and the fast text writer expose exactly it, and the docs table
is generated from it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from app.views.metricnames import METRICS, markdown_table
from app.views.metrics import build_exposition, take_snapshot
from tests.views.test_exposition import busy_store

SAMPLE_LABELS = {"le"}  # added per sample by the format itself (a histogram's buckets)


def described(text: str) -> dict[str, tuple[str, str, set[str]]]:
    """Vigil's families in an exposition: name -> (type, help, every label name its samples carry)."""
    out = {}
    for family in text_string_to_metric_families(text):
        if family.name.startswith("vigil_"):
            labels = {name for sample in family.samples for name in sample.labels} - SAMPLE_LABELS
            out[family.name] = (family.type, family.documentation, labels)
    return out


def expected() -> dict[str, tuple[str, str, set[str]]]:
    # The parser names a family as prometheus_client does: a counter without `_total`, an info metric as a gauge.
    return {
        (metric.family if metric.kind != "info" else metric.exposed): (
            metric.text_type,
            metric.help,
            set(metric.labels),
        )
        for metric in METRICS
    }


def test_the_writer_and_the_collector_expose_exactly_the_table() -> None:
    store = busy_store()
    exposition = build_exposition(store)
    snapshot = take_snapshot(store)
    assert exposition.collector is not None
    with exposition.collector.pinned(snapshot):
        collected = described(generate_latest(exposition.registry).decode())
    written = described(exposition.writer.render(snapshot) + generate_latest(exposition.others).decode())
    table = expected()
    for name, (kind, help_text, labels) in table.items():
        for exposed in (collected, written):
            assert exposed[name][:2] == (kind, help_text), name
            # A family with samples carries exactly the table's labels (forecasts have none in this store).
            assert exposed[name][2] in (labels, set()), name
    assert collected.keys() == written.keys() == table.keys()
    assert all(
        collected[name][2] == labels for name, (_, _, labels) in table.items() if name != "vigil_check_forecast_seconds"
    )


def test_the_docs_table_lists_every_family_once() -> None:
    table = markdown_table()
    rows = table.splitlines()[2:]
    assert len(rows) == len(METRICS) + 1  # and process_*
    for metric in METRICS:
        assert (
            sum(row.startswith(f"| `{metric.exposed}{{") or row.startswith(f"| `{metric.exposed}`") for row in rows)
            == 1
        )
    assert "| `vigil_check_forecast_seconds{component,check,measure}` | gauge | Time until" in table
    assert "| `vigil_check_runs_total{component,check,status}` | counter | " in table
    assert "| `vigil_check_duration_seconds{component,check}` | histogram | " in table
    assert "| `vigil_ready` | gauge | " in table
    printed = subprocess.run(
        [sys.executable, "-m", "app.views.metricnames"], capture_output=True, text=True, check=True
    ).stdout
    assert printed == table


def test_the_text_writer_does_not_import_the_collector() -> None:
    """The table and the snapshot sit below both writers: exposition and metrics no longer import each other."""
    code = "import sys, app.views.exposition; print('app.views.metrics' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_the_docs_metrics_page_carries_the_generated_table() -> None:
    """docs/metrics.md holds, between its markers, exactly what `python -m app.views.metricnames` prints."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text()
    start = page.index("<!-- metric-table")
    block = page[page.index("-->", start) + 3 : page.index("<!-- /metric-table -->")]
    assert block.strip() == markdown_table().strip()
