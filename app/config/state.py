"""The `state` section: where Vigil keeps the state file that carries history and check states across restarts.

Validated once like the rest of the settings; app.engine.statefile reads and writes the file.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from app.config.fields import Duration, Frozen
from app.units import span

MIN_INTERVAL = 1.0
MAX_INTERVAL = 3600.0


def _interval(seconds: float) -> float:
    if not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
        raise ValueError(f"{span(seconds)} is outside {span(MIN_INTERVAL)}..{span(MAX_INTERVAL)}")
    return seconds


def _path(value: str | None) -> str | None:
    if value is not None and (not value.strip() or "\0" in value):
        raise ValueError("must be a file path (or left out: no state file)")
    return value


class StateConfig(Frozen):
    """No `path`, no state file: Vigil starts blank at every start, as without this section."""

    path: Annotated[str | None, AfterValidator(_path)] = None
    interval: Annotated[Duration, AfterValidator(_interval)] = 60.0  # between writes; also one at shutdown
    # Whose file it is: a file written under another name is not read. Default: the host name (a pod's name).
    instance: str | None = Field(default=None, min_length=1, max_length=253)
