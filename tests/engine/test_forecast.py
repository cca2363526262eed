"""Forecasts on synthetic histories: a true trend is found within tolerance, and nothing else cries wolf."""

from __future__ import annotations

import random

import pytest

from app.engine.forecast import MeasureSeries, mann_kendall_z, predict, theil_sen
from app.model import Limit

WINDOW, HORIZON = 7200.0, 86400.0
MEMORY = Limit(0.95, "maxmemory")


def series(values: list[float], every: float = 60.0) -> list[tuple[float, float]]:
    return [(i * every, v) for i, v in enumerate(values)]


def growth(rate_per_hour: float, start: float, n: int = 120, noise: float = 0.0, seed: int = 7) -> list[float]:
    rng = random.Random(seed)
    return [start + rate_per_hour * i / 60 + rng.gauss(0, noise) for i in range(n)]


def test_steady_growth_is_forecast_within_tolerance() -> None:
    values = growth(0.09, 0.44)  # +9%/h for 2 h: 62% at the end, 33% left: about 3 h 40 min
    forecast = predict("memory", MEMORY, series(values), window=WINDOW, horizon=HORIZON)
    assert forecast is not None
    true_breach = (0.95 - values[-1]) / 0.09 * 3600
    assert forecast.breach_in == pytest.approx(true_breach, rel=0.02)
    assert forecast.rate * 3600 == pytest.approx(0.09, rel=0.02)
    assert forecast.method == "theil-sen + mann-kendall"


def test_growth_plus_noise_and_an_outlier() -> None:
    values = growth(0.09, 0.44, noise=0.01)
    values[60] = 0.99  # one wild reading
    forecast = predict("memory", MEMORY, series(values), window=WINDOW, horizon=HORIZON)
    assert forecast is not None
    true_breach = (0.95 - (0.44 + 0.09 * 119 / 60)) / 0.09 * 3600
    assert forecast.breach_in == pytest.approx(true_breach, rel=0.15)


def test_a_slow_first_reading_is_not_a_reset() -> None:
    values = growth(0.09, 0.44)
    values[0] = 0.7  # the window's first point: a slow first query on a new connection, say
    forecast = predict("memory", MEMORY, series(values), window=WINDOW, horizon=HORIZON)
    assert forecast is not None
    assert forecast.breach_in == pytest.approx((0.95 - values[-1]) / 0.09 * 3600, rel=0.05)


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("flat", [0.5] * 120),
        ("flat with noise", growth(0.0, 0.5, noise=0.01)),
        ("decreasing", growth(-0.05, 0.8)),
        ("a single step", [0.4] * 60 + [0.6] * 60),
        ("a sawtooth", [0.3 + 0.02 * (i % 30) for i in range(120)]),
        ("too few points", growth(0.09, 0.44, n=6)),
        ("too short a span", growth(0.09, 0.44, n=40)),  # 40 minutes of a 2 h window
        ("beyond the horizon", growth(0.001, 0.44)),
        ("already past the limit", growth(0.09, 0.90)),
    ],
)
def test_no_forecast(name: str, values: list[float]) -> None:
    assert predict("memory", MEMORY, series(values), window=WINDOW, horizon=HORIZON) is None, name


def test_a_gap_in_the_history_does_not_hide_a_trend() -> None:
    points = [p for p in series(growth(0.09, 0.44)) if not 1800 <= p[0] < 4200]  # 40 minutes missing
    forecast = predict("memory", MEMORY, points, window=WINDOW, horizon=HORIZON)
    assert forecast is not None
    assert forecast.breach_in == pytest.approx((0.95 - (0.44 + 0.09 * 119 / 60)) / 0.09 * 3600, rel=0.02)


def test_a_falling_value_and_its_limit() -> None:
    day = 86400.0
    expiry = [30 * day - i * 3600 for i in range(48)]  # a certificate losing an hour an hour
    limit = Limit(7 * day, "the 7-day fail threshold", falling=True)
    forecast = predict("cert_expiry", limit, series(expiry, every=3600), window=48 * 3600, horizon=30 * day)
    assert forecast is not None and forecast.rate == pytest.approx(-1.0)
    assert forecast.breach_in == pytest.approx(expiry[-1] - 7 * day, rel=0.01)


def test_the_forecast_is_withdrawn_when_the_trend_flattens() -> None:
    values = growth(0.09, 0.44, n=60) + [0.44 + 0.09 * 59 / 60] * 60
    assert predict("memory", MEMORY, series(values), window=WINDOW, horizon=HORIZON) is None


def test_building_blocks() -> None:
    assert theil_sen([(t, 1.0 + 2 * t) for t in range(7)] + [(7, 100.0)])[0] == pytest.approx(2.0)
    assert mann_kendall_z([1, 2, 3, 4, 5, 6, 7, 8]) > 1.96
    assert mann_kendall_z([8, 7, 6, 5, 4, 3, 2, 1]) < -1.96
    assert mann_kendall_z([1, 1, 1, 1]) == 0.0
    measure = MeasureSeries(slot=60.0)
    for i in range(300):  # 4 samples a minute for 75 minutes: one median per minute
        measure.add(i * 15.0, 100.0 if i % 4 == 1 else float(i))
    points = measure.series()
    assert len(points) == 75
    assert all(v != 100.0 for _, v in points[1:])  # the per-slot median drops the spikes


def test_with_forecast_tells_the_soonest_breach_and_never_fails() -> None:
    from app.engine.forecast import Forecast, with_forecast
    from app.model import CheckResult, Limit, Status

    run = CheckResult("c", "x", "redis", Status.PASS, "memory fine", (), 1_000_000.0, 0.01)
    assert with_forecast(run, [], 7200) == (run, None)
    later = Forecast("memory_utilisation", Limit(0.95, "maxmemory"), 0.62, 0.09 / 3600, 5 * 3600, 7200, 40)
    sooner = Forecast("clients_utilisation", Limit(0.9, "maxclients"), 0.5, 0.2 / 3600, 2 * 3600, 7200, 40)
    told, kept = with_forecast(run, [(later, "ratio"), (sooner, "ratio")], 7200)
    assert kept is sooner and told.status is Status.WARN
    assert told.output.startswith("clients utilisation reaches maxclients in about 2 h at the current rate")
    assert told.output.endswith("; memory fine")
    warned = CheckResult("c", "x", "redis", Status.WARN, "slow", (), 1_000_000.0, 0.01)
    told, _ = with_forecast(warned, [(later, "ratio")], 7200)
    assert told.status is Status.WARN and told.output.startswith("slow; memory utilisation reaches maxmemory")
