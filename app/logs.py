"""Log setup: one line per state transition or problem, as text or JSON, with every secret masked.

The mask runs in a handler filter, so no code path can log a configured secret by mistake.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
import warnings
from typing import Any

from app import units
from app.masking import Scrubber
from app.text import printable

LOGGER = "vigil"
WARNINGS_LOGGER = "py.warnings"
_FIELDS = ("check", "old", "new", "reason", "component")


class _ScrubFilter(logging.Filter):
    def __init__(self, scrubber: Scrubber) -> None:
        super().__init__()
        self.scrubber = scrubber

    def filter(self, record: logging.LogRecord) -> bool:
        # One line per record whatever a target wrote: control characters in a message or a field are escaped,
        # so no text can forge a line or drive a terminal.
        record.msg = printable(self.scrubber.text(record.getMessage()))
        record.args = None
        for name in _FIELDS:
            value = getattr(record, name, None)
            if isinstance(value, str):
                setattr(record, name, printable(self.scrubber.text(value)))
        if record.exc_info:
            # A bug in Vigil is logged with its traceback, formatted here so the mask covers it too (exception
            # messages may quote a URL with a password); the formatter then prints the text as it is.
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
            record.exc_text = "\n".join(printable(line) for line in self.scrubber.text(text).split("\n"))
            record.exc_info = None
        return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": units.iso_timestamp(record.created, precise=True),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in _FIELDS:
            if (value := getattr(record, name, None)) is not None:
                entry[name] = value
        if record.exc_text:
            entry["traceback"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


# Client libraries that log each failed attempt (asynch: "Failed to connect to ..." on every connect) are cut to
# errors: Vigil reports a failing dependency once per state transition, with the cause in the check's output.
QUIET_LIBRARIES = ("asynch", "redis", "aiohttp", "asyncio")


def setup_logging(fmt: str, level: str, scrubber: Scrubber, stream: Any = None) -> logging.Handler:
    """Route every logger to one handler on stderr (formatted, masked): Vigil's and uvicorn's at `level`, any
    library's at warning (the chatty client libraries at error). Returns the handler (tests remove it)."""
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
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.WARNING)
    # Python warnings (a library's, e.g. cryptography's about a certificate's over-long name) would go to stderr
    # as they are, past the mask and the format, and break a JSON stream: they are log records like any other.
    logging.captureWarnings(True)
    warnings.showwarning = _log_warning
    logging.getLogger(WARNINGS_LOGGER).handlers = []  # through the root's handler, at warning
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.ERROR)
    return handler


def remask(scrubber: Scrubber) -> None:
    """Mask with `scrubber` from now on (a reloaded configuration brought other secrets)."""
    for handler in logging.getLogger(LOGGER).handlers:
        for found in handler.filters:
            if isinstance(found, _ScrubFilter):
                found.scrubber = scrubber


def _log_warning(
    message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None, line: Any = None
) -> None:
    """One log line per warning: `UserWarning: <message> (<file>:<line>)`."""
    logging.getLogger(WARNINGS_LOGGER).warning("%s: %s (%s:%d)", category.__name__, message, filename, lineno)
