"""The kit every check judges with: a Finding, the one threshold comparison, and the latency finding.

Pure and shared by every type, so a limit reads and compares the same whatever the component (see `threshold`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from app import units
from app.model import Finding, Status

__all__ = ["Finding", "finite", "latency", "reached", "threshold"]

FAIL_THRESHOLD = "fail threshold"


def reached(value: float, limit: float, *, falling: bool = False) -> bool:
    """The one comparison: a value at its limit has reached it (rising: at or above; falling: at or below)."""
    return value <= limit if falling else value >= limit


def finite(name: str, value: float) -> str | None:
    """Why a reading cannot be judged (NaN, infinite), as a sentence naming it; None for a finite number."""
    if math.isfinite(value):
        return None
    return f"{name} read as {value!r}, not a finite number"


def threshold(
    value: float,
    said: str,
    *,
    warn: float | None,
    fail: float | None,
    shown: Callable[[float], str],
    limit: str = FAIL_THRESHOLD,
    falling: bool = False,
) -> Finding | None:
    """A fail finding when `value` reaches `fail`, else a warn finding when it reaches `warn`; None when neither
    (or both are None). `said` states what was measured, `shown` words a limit in its unit, `limit` names the
    fail limit ("SLA", "maximum"). A value that is not a finite number is never within a limit: it fails."""
    if not math.isfinite(value):
        return Status.FAIL, f"{said}: not a finite number, so it cannot be judged"
    side = "below" if falling else "above"
    if fail is not None and reached(value, fail, falling=falling):
        return Status.FAIL, f"{said}, at or {side} the {shown(fail)} {limit}"
    if warn is not None and reached(value, warn, falling=falling):
        of = "" if fail is None or limit == FAIL_THRESHOLD else f" of its {shown(fail)} {limit}"
        return Status.WARN, f"{said}, at or {side} the {shown(warn)} warn threshold{of}"
    return None


def latency(what: str, seconds: float, warn: float | None, budget: float | None = None) -> Finding | None:
    """The one latency finding (`latency_warn`, and a `latency_budget` that fails): `PING took 250 ms, at or above
    the 200ms warn threshold`. Configured limits read as configured, the measured time as a latency."""
    return threshold(
        seconds, f"{what} took {units.latency(seconds)}", warn=warn, fail=budget, shown=units.span, limit="budget"
    )


def forecast_sentence(
    measure: str, limit: str, breach_in: float, now: float, rate: float, unit: str | None, window: float
) -> str:
    """`memory utilisation reaches maxmemory in about 3 h 10 min at the current rate (62% now, +9%/h over the
    last 2h)`: what a person acts on. `rate` in units per second."""
    per_hour = rate * 3600
    sign = "+" if per_hour >= 0 else "-"
    return (
        f"{measure.replace('_', ' ')} reaches {limit} in about {units.about(breach_in)} at the current rate "
        f"({units.measured(now, unit)} now, {sign}{units.measured(abs(per_hour), unit)}/h over the last "
        f"{units.span(window)})"
    )
