"""Maintenance windows: when a check's failures are planned, so its alerts stay quiet (readiness does not change).

A window is one-off (`start`/`end`, ISO 8601 with an offset) or weekly (`weekly: {days, start, duration,
timezone}`, in the time zone's own wall clock, so 03:00 stays 03:00 across daylight saving). It applies to every
check, or to the `components` and `checks` (`component:check`) it names. Whether a window is open is a pure
function of the time (`open_window`), read by the metrics and the status page; nothing is stored.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from app.config.fields import Duration, Frozen

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
MAX_WEEKLY = 7 * 24 * 3600.0  # a weekly window longer than a week would never close


class Weekly(Frozen):
    days: list[Day] = Field(min_length=1)
    start: str  # HH:MM, local wall clock in `timezone`
    duration: Duration
    timezone: str = "UTC"

    @field_validator("start")
    @classmethod
    def _clock(cls, value: str) -> str:
        try:
            time.fromisoformat(value)
        except ValueError:
            raise ValueError(f"start must be a time of day as HH:MM, not {value!r}") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Europe/Berlin)") from None
        return value

    @field_validator("duration")
    @classmethod
    def _length(cls, value: float) -> float:
        if not 0 < value < MAX_WEEKLY:
            raise ValueError("duration must be more than 0 and less than a week")
        return value

    def occurrence(self, now: float) -> tuple[float, float] | None:
        """The occurrence open at `now` (unix time) as (start, end), if any: the latest start at or before now."""
        zone = ZoneInfo(self.timezone)
        clock = time.fromisoformat(self.start)
        local = datetime.fromtimestamp(now, zone)
        for back in range(8):  # today and the week before: a window is shorter than a week
            day = (local - timedelta(days=back)).date()
            if DAYS[day.weekday()] not in self.days:
                continue
            start = datetime.combine(day, clock, tzinfo=zone).timestamp()
            if start <= now < start + self.duration:
                return start, start + self.duration
        return None


class MaintenanceWindow(Frozen):
    name: str = Field(default="maintenance", min_length=1, max_length=64)
    start: datetime | None = None
    end: datetime | None = None
    weekly: Weekly | None = None
    components: list[str] = Field(default_factory=list)
    checks: list[str] = Field(default_factory=list)  # component:check

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone offset (2026-12-06T02:00:00Z or +01:00): a bare time is ambiguous")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        one_off = self.start is not None or self.end is not None
        if one_off == (self.weekly is not None):
            raise ValueError("a window is either one-off (start and end) or weekly, and must be one of them")
        if one_off:
            if self.start is None or self.end is None:
                raise ValueError("a one-off window needs both start and end")
            if self.end <= self.start:
                raise ValueError("end must be after start")
        return self

    def applies_to(self, component: str, check: str) -> bool:
        if not self.components and not self.checks:
            return True
        return component in self.components or f"{component}:{check}" in self.checks

    def open_at(self, now: float) -> tuple[float, float] | None:
        """(start, end) in unix time when the window is open at `now`, else None."""
        if self.weekly is not None:
            return self.weekly.occurrence(now)
        assert self.start is not None and self.end is not None
        start, end = self.start.timestamp(), self.end.timestamp()
        return (start, end) if start <= now < end else None


def open_window(windows: tuple[MaintenanceWindow, ...], now: float) -> tuple[str, float] | None:
    """(name, end) of the window open at `now` that ends last, among `windows` (a check's own), or None."""
    best: tuple[str, float] | None = None
    for window in windows:
        found = window.open_at(now)
        if found is not None and (best is None or found[1] > best[1]):
            best = (window.name, found[1])
    return best
