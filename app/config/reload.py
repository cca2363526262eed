"""The `reload:` section: whether Vigil watches its configuration (and secret) files and reloads by itself on a change.

SIGHUP and `POST /-/reload` reload whatever this says; the engine's reload rules live in app.engine.reload.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

from app.config.fields import Frozen
from app.units import parse_duration, span

MIN_WATCH_INTERVAL = 0.1  # seconds: a poll is one stat() of the file, but not a busy loop
MAX_WATCH_INTERVAL = 3600.0


def _watch_interval(seconds: float) -> float:
    if not MIN_WATCH_INTERVAL <= seconds <= MAX_WATCH_INTERVAL:
        raise ValueError(f"{span(seconds)} is outside {span(MIN_WATCH_INTERVAL)} to {span(MAX_WATCH_INTERVAL)}")
    return seconds


class ReloadConfig(Frozen):
    """`watch`: poll the configuration file and the secret files it names every `interval` (through symlinks, as a
    Kubernetes ConfigMap or Secret volume swaps its `..data` link) and reload when a content changed."""

    watch: bool = False
    interval: Annotated[float, BeforeValidator(parse_duration), AfterValidator(_watch_interval)] = 5.0
