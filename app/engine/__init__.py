"""The engine: the scheduler runs checks, the store keeps their results, history and forecasts; one readiness rule."""
