"""Log setup: one line per state transition or problem, as text or JSON, with every secret masked.

The mask runs in a handler filter, so no code path can log a configured secret by mistake.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from app.config import Scrubber

LOGGER = "vigil"
_FIELDS = ("check", "old", "new", "reason", "component")


class _ScrubFilter(logging.Filter):
    def __init__(self, scrubber: Scrubber) -> None:
        super().__init__()
        self.scrubber = scrubber

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.scrubber.text(record.getMessage())
        record.args = None
        for name in _FIELDS:
            value = getattr(record, name, None)
            if isinstance(value, str):
                setattr(record, name, self.scrubber.text(value))
        if record.exc_info:
            # Tracebacks may quote secrets from frames; keep only the scrubbed exception line.
            record.msg = f"{record.msg}: {self.scrubber.text(repr(record.exc_info[1]))}"
            record.exc_info = None
            record.exc_text = None
        return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in _FIELDS:
            if (value := getattr(record, name, None)) is not None:
                entry[name] = value
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(fmt: str, level: str, scrubber: Scrubber, stream: Any = None) -> logging.Handler:
    """Route the `vigil` logger and uvicorn's to one handler on stderr; returns the handler (tests remove it)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(_ScrubFilter(scrubber))
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in (LOGGER, "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False
    return handler
