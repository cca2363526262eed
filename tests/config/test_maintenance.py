"""Maintenance windows (app/config/maintenance.py): when they are open, whom they cover, what the config refuses,
and what readers see: the metric that keeps alerts quiet and the window on the status page."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.config.maintenance import MaintenanceWindow, open_window
from app.config.problems import ConfigError
from app.config.settings import load_settings
from app.main import build_engine
from app.views.metrics import build_exposition, take_snapshot
from app.views.statusview import RowMemo
from tests.conftest import make_settings

REDIS = {"type": "redis", "url": "redis://127.0.0.1:1/0"}


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_a_one_off_window_is_open_from_start_to_end() -> None:
    window = MaintenanceWindow(name="upgrade", start="2026-12-06T02:00:00Z", end="2026-12-06T04:00:00+00:00")
    assert open_window((window,), at("2026-12-06T01:59:59+00:00")) is None
    assert open_window((window,), at("2026-12-06T02:00:00+00:00")) == ("upgrade", at("2026-12-06T04:00:00+00:00"))
    assert open_window((window,), at("2026-12-06T04:00:00+00:00")) is None


def test_a_weekly_window_keeps_its_wall_clock_across_daylight_saving() -> None:
    """Sundays 03:00-04:00 in Berlin: 01:00-02:00 UTC in summer (CEST), 02:00-03:00 UTC in winter (CET)."""
    window = MaintenanceWindow(
        weekly={"days": ["sun"], "start": "03:00", "duration": "1h", "timezone": "Europe/Berlin"}
    )
    summer, winter = "2026-07-05", "2026-12-06"  # both Sundays
    assert open_window((window,), at(f"{summer}T01:30:00+00:00")) is not None
    assert open_window((window,), at(f"{summer}T02:30:00+00:00")) is None
    assert open_window((window,), at(f"{winter}T02:30:00+00:00")) is not None
    assert open_window((window,), at(f"{winter}T01:30:00+00:00")) is None
    assert open_window((window,), at("2026-12-07T03:30:00+00:00")) is None  # a Monday


def test_a_weekly_window_open_across_midnight_is_found_the_next_day() -> None:
    window = MaintenanceWindow(weekly={"days": ["sat"], "start": "23:00", "duration": "3h"})
    assert open_window((window,), at("2026-12-06T01:00:00+00:00")) == ("maintenance", at("2026-12-06T02:00:00+00:00"))


def test_of_two_open_windows_the_later_end_is_shown() -> None:
    short = MaintenanceWindow(name="a", start="2026-12-06T02:00:00Z", end="2026-12-06T03:00:00Z")
    long = MaintenanceWindow(name="b", start="2026-12-06T01:00:00Z", end="2026-12-06T05:00:00Z")
    assert open_window((short, long), at("2026-12-06T02:30:00+00:00")) == ("b", at("2026-12-06T05:00:00+00:00"))


COMPONENTS = {
    "cache": {**REDIS, "checks": {"connectivity": {}, "memory": {}}},
    "api": {**REDIS, "checks": {"connectivity": {}}},
}


def settings_with(maintenance: list[dict[str, Any]]) -> Any:
    return make_settings(components=COMPONENTS, maintenance=maintenance)


@pytest.mark.parametrize(
    ("window", "path", "message"),
    [
        ({"start": "2026-12-06T02:00:00", "end": "2026-12-06T03:00:00Z"}, "maintenance.0.start", "time zone offset"),
        ({"start": "2026-12-06T03:00:00Z", "end": "2026-12-06T02:00:00Z"}, "maintenance.0", "end must be after start"),
        ({"start": "2026-12-06T03:00:00Z"}, "maintenance.0", "needs both start and end"),
        ({"weekly": {"days": ["sun"], "start": "3am", "duration": "1h"}}, "maintenance.0.weekly.start", "HH:MM"),
        (
            {"weekly": {"days": ["sun"], "start": "03:00", "duration": "1h", "timezone": "Mars/Base"}},
            "timezone",
            "IANA",
        ),
        ({"weekly": {"days": ["sun"], "start": "03:00", "duration": "8d"}}, "duration", "less than a week"),
        (
            {"start": "2026-12-06T02:00:00Z", "end": "2026-12-06T03:00:00Z", "components": ["cahce"]},
            "components",
            "cahce",
        ),
        (
            {"start": "2026-12-06T02:00:00Z", "end": "2026-12-06T03:00:00Z", "checks": ["cache:ping"]},
            "checks",
            "cache:ping",
        ),
    ],
)
def test_the_config_names_what_is_wrong_with_a_window(
    window: dict[str, Any], path: str, message: str, tmp_path: Path
) -> None:
    config = tmp_path / "vigil.yaml"
    config.write_text(yaml.safe_dump({"components": COMPONENTS, "maintenance": [window]}))
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert any(path in problem.path and message in problem.message for problem in caught.value.entries), str(
        caught.value
    )


def test_readers_see_the_open_window_of_the_checks_it_covers() -> None:
    now = time.time()
    open_now = {
        "name": "redis upgrade",
        "start": datetime.fromtimestamp(now - 600, UTC).isoformat(),
        "end": datetime.fromtimestamp(now + 3600, UTC).isoformat(),
    }
    store, _ = build_engine(
        settings_with([{**open_now, "components": ["cache"]}, {**open_now, "checks": ["api:x"]}][:1])
    )
    text = build_exposition(store).writer.render(take_snapshot(store))
    gauges = {
        line.split(" ")[0]: line.split(" ")[1]
        for line in text.splitlines()
        if line.startswith("vigil_check_maintenance{")
    }
    assert gauges == {
        'vigil_check_maintenance{check="connectivity",component="cache"}': "1.0",
        'vigil_check_maintenance{check="memory",component="cache"}': "1.0",
        'vigil_check_maintenance{check="connectivity",component="api"}': "0.0",
    }
    memo = RowMemo()
    rows = {str(state.check_id): memo.row(state, now, details=True) for state in store.states.values()}
    assert rows["cache:memory"]["maintenance"] == {"name": "redis upgrade", "until": round(now + 3600, 3)}
    assert rows["api:connectivity"]["maintenance"] is None
