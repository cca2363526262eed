"""Early warning per node of a cluster: each node's limited values (memory, clients) kept as a series of their own,
so a node filling up is told before it becomes the fullest one (whose values the result carries, and the store
forecasts as for one server). The same fit, rules and sentence as the store's (app/engine/forecast.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.checks.judging import Finding, forecast_sentence
from app.config.fields import CheckConfig, Schedule
from app.engine.forecast import SLOTS, Forecast, MeasureSeries, predict
from app.model import Outcome, Status


@dataclass(slots=True)
class NodeSeries:
    """Each node's series of each limited value, by (address, measure)."""

    series: dict[tuple[str, str], MeasureSeries] = field(default_factory=dict)

    def forecasts(
        self, outcomes: dict[str, Outcome], shown: str | None, options: CheckConfig, schedule: Schedule, now: float
    ) -> list[Finding]:
        """A warn finding for the node whose value reaches its limit soonest, if any does within the horizon. The
        node `shown` is left to the store (its values are the result's); a failing node is judged already.
        `now`: a monotonic clock's reading."""
        settings = options.forecast
        if settings is None:
            return []
        slot = max(schedule.interval, settings.window / SLOTS)
        found: list[tuple[str, Forecast, str | None]] = []
        for address, outcome in outcomes.items():
            for observation in outcome.observed:
                value = observation.value
                if observation.limit is None or isinstance(value, bool) or not isinstance(value, int | float):
                    continue
                series = self.series.setdefault((address, observation.name), MeasureSeries(slot))
                series.add(now, float(value))
                if address == shown or outcome.status is Status.FAIL:
                    continue
                points = series.series()
                forecast = predict(
                    observation.name, observation.limit, points, window=settings.window, horizon=settings.horizon
                )
                if forecast is not None:
                    found.append((address, forecast, observation.unit))
        for key in [key for key in self.series if key[0] not in outcomes]:  # nodes that left the cluster
            del self.series[key]
        if not found:
            return []
        address, soonest, unit = min(found, key=lambda item: item[1].breach_in)
        sentence = forecast_sentence(
            soonest.measure, soonest.limit.name, soonest.breach_in, soonest.now, soonest.rate, unit, settings.window
        )
        return [(Status.WARN, f"{address}: {sentence}")]
