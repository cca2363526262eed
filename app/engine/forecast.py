"""Early warning: when will a measured value cross its limit, at the current rate? (pure functions, no I/O)

Method: the value's recent history is kept as per-slot medians (robust to single outliers) in a small ring; the
trend is fitted with Theil–Sen (the median of all pairwise slopes: robust to up to ~29% outliers, no assumption
of normal noise) and must pass the Mann–Kendall trend test (|Z| >= 1.96, two-sided p < 0.05) towards the limit.
No crying wolf: a forecast needs enough points over enough of the window; a reset in the window (a drop away from
the limit: eviction, restart) means the series is a sawtooth, not a trend; a single step is refused because each
half of the window must show the same trend on its own (within a factor of 3); a value already past its limit
gets none (the check itself fails it).
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass, replace

from app.checks.judging import forecast_sentence
from app.model import CheckResult, Limit, Status

MIN_POINTS = 8
MIN_SPAN = 0.5  # of the window
Z_CRITICAL = 1.96  # Mann–Kendall, two-sided p < 0.05
HALVES_AGREE = 3.0  # each half's slope within this factor of the whole's
RESET_SHARE = 0.25  # a fall away from the limit of this share of the window's range is a reset (sawtooth, restart)
SLOTS = 120  # per-slot medians kept per measure


@dataclass(frozen=True, slots=True)
class Forecast:
    measure: str
    limit: Limit
    now: float  # the fitted value at the last point
    rate: float  # units per second (negative: falling)
    breach_in: float  # seconds until the fitted line reaches the limit
    window: float  # seconds of history the fit used
    points: int
    method: str = "theil-sen + mann-kendall"


def theil_sen(points: list[tuple[float, float]]) -> tuple[float, float]:
    """(slope, intercept): the median pairwise slope, and the median of v - slope * t."""
    slopes = [(v2 - v1) / (t2 - t1) for i, (t1, v1) in enumerate(points) for t2, v2 in points[i + 1 :] if t2 != t1]
    if not slopes:
        return 0.0, statistics.median(v for _, v in points)
    slope = statistics.median(slopes)
    return slope, statistics.median(v - slope * t for t, v in points)


def mann_kendall_z(values: list[float]) -> float:
    """The Mann–Kendall Z statistic (with the ties correction): > 0 for a rising trend, < 0 for a falling one."""
    n = len(values)
    s = 0
    for i in range(n - 1):
        for j in range(i + 1, n):
            s += (values[j] > values[i]) - (values[j] < values[i])
    ties: dict[float, int] = {}
    for value in values:
        ties[value] = ties.get(value, 0) + 1
    variance = (n * (n - 1) * (2 * n + 5) - sum(c * (c - 1) * (2 * c + 5) for c in ties.values())) / 18
    if variance <= 0 or s == 0:
        return 0.0
    return (s - 1) / math.sqrt(variance) if s > 0 else (s + 1) / math.sqrt(variance)


def has_reset(values: list[float], towards: float) -> bool:
    """A lasting fall away from the limit: the few points after a big drop stay below the few before it. A single
    wild reading (up, then back to the trend) is not one, nor is the window's first point alone (a slow first
    query on a new connection would otherwise hold the forecast back until it left the window)."""
    spread = max(values) - min(values)
    if spread <= 0:
        return False
    for k in range(1, len(values) - 1):
        if (values[k + 1] - values[k]) * towards < -RESET_SHARE * spread:
            before = statistics.median(values[max(0, k - 3) : k + 1])
            after = statistics.median(values[k + 1 : k + 4])
            if (after - before) * towards < -RESET_SHARE * spread:
                return True
    return False


def predict(
    measure: str, limit: Limit, points: list[tuple[float, float]], *, window: float, horizon: float
) -> Forecast | None:
    """A forecast when the trend reaches `limit` within `horizon`, else None (see the module's rules)."""
    if not points:
        return None
    last_t = points[-1][0]
    points = [(t, v) for t, v in points if t >= last_t - window]
    if len(points) < MIN_POINTS or last_t - points[0][0] < MIN_SPAN * window:
        return None
    towards = -1.0 if limit.falling else 1.0  # the direction in which the value approaches its limit
    values = [v for _, v in points]
    if has_reset(values, towards):
        return None  # a reset in the window: a sawtooth or a restart, not a trend
    if mann_kendall_z(values) * towards < Z_CRITICAL:
        return None  # no significant trend towards the limit (flat, noise, or moving away)
    slope, intercept = theil_sen(points)
    if slope * towards <= 0:
        return None
    middle = len(points) // 2
    for half in (points[:middle], points[middle:]):
        half_slope, _ = theil_sen(half)
        if not 1 / HALVES_AGREE <= half_slope / slope <= HALVES_AGREE:
            return None  # a step, or a trend that changed inside the window
    now = intercept + slope * last_t
    if (limit.value - now) * towards <= 0 or (limit.value - values[-1]) * towards <= 0:
        return None  # already at or past the limit: the check itself reports that
    breach_in = (limit.value - now) / slope
    if breach_in > horizon:
        return None
    return Forecast(measure, limit, now, slope, breach_in, last_t - points[0][0], len(points))


class MeasureSeries:
    """One measure's recent history as per-slot medians: at most SLOTS points, whatever the run rate."""

    def __init__(self, slot: float) -> None:
        self.slot = slot
        self.points: deque[tuple[float, float]] = deque(maxlen=SLOTS)
        self._current: int | None = None
        self._samples: list[tuple[float, float]] = []

    def add(self, at: float, value: float) -> None:
        number = int(at // self.slot)
        if self._current is not None and number != self._current:
            self._close()
        self._current = number
        self._samples.append((at, value))

    def _close(self) -> None:
        if self._samples:
            times = [t for t, _ in self._samples]
            self.points.append((statistics.median(times), statistics.median(v for _, v in self._samples)))
            self._samples = []

    def series(self) -> list[tuple[float, float]]:
        """Closed slots plus the one in progress (its median so far)."""
        if not self._samples:
            return list(self.points)
        times = [t for t, _ in self._samples]
        return [*self.points, (statistics.median(times), statistics.median(v for _, v in self._samples))]


def with_forecast(
    result: CheckResult, forecasts: list[tuple[Forecast, str | None]], window: float
) -> tuple[CheckResult, Forecast | None]:
    """The run as reported, given the forecasts its limited values have (each with its unit): the soonest breach is
    told, and a passing run becomes a warn saying when. Never a fail from a forecast; no forecasts, no change."""
    if not forecasts:
        return result, None
    soonest, unit = min(forecasts, key=lambda f: f[0].breach_in)
    sentence = forecast_sentence(
        soonest.measure, soonest.limit.name, soonest.breach_in, soonest.now, soonest.rate, unit, window
    )
    if result.status is Status.PASS:
        return replace(result, status=Status.WARN, output=f"{sentence}; {result.output}"), soonest
    return replace(result, output=f"{result.output}; {sentence}"), soonest
