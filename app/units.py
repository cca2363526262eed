"""Durations and sizes in, words out: `15s`, `2m`, `512Mi` parsed from config, and every number Vigil writes for people.

Redis, ClickHouse, HTTP outputs and the CLI all word durations, sizes, ratios, counts and times here, alike.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_DURATION_HINT = "expected a duration such as 500ms, 15s, 2m or a number of seconds"
MAX_DURATION = 3650 * 86400.0  # ten years: longer than any real setting (HSTS max-age is one or two)


def parse_duration(value: Any) -> float:
    """`500ms`, `15s`, `2m`, `1h`, `3d` or plain seconds -> seconds as a float."""
    if isinstance(value, bool):
        raise ValueError(_DURATION_HINT)
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    else:
        raise ValueError(_DURATION_HINT)
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    if not seconds <= MAX_DURATION:  # also NaN and .inf
        raise ValueError(f"a duration must be finite and at most {span(MAX_DURATION)}")
    return seconds


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]iB|[KMGT]i|[kKMGT]B|[kKMGT]|B)?\s*$")
_SIZE_FACTOR = {"": 1, "B": 1, "k": 1000, "K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4}


def parse_size(value: Any) -> int:
    """Bytes from `536870912`, `512Mi`, `512MiB`, `1.5GiB`, `500M`, `500MB` (Ki/KiB powers of 1024; k/K/KB of 1000)."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 512Mi, 2GiB or a number of bytes")
    if isinstance(value, int | float):
        number, unit = float(value), ""
    elif isinstance(value, str) and (match := _SIZE.match(value)):
        number, unit = float(match.group(1)), match.group(2) or ""
    else:
        raise ValueError("expected a size such as 512Mi, 2GiB or a number of bytes")
    if unit.endswith("iB") or unit.endswith("i"):
        factor = 1024 ** ("KMGT".index(unit[0]) + 1)
    else:
        factor = _SIZE_FACTOR[unit.removesuffix("B") or unit]
    if number < 0:
        raise ValueError("a size cannot be negative")
    return int(number * factor)


def span(seconds: float) -> str:
    """A configured duration, as the user would write it back: `500ms`, `90s`, `5m`, `24h`, `72h`, `7d` (days from a
    week up, so a day reads `24h`)."""
    if seconds < 1 and seconds != 0:
        return f"{seconds * 1000:g}ms"
    whole = int(seconds)
    if whole != seconds:
        return f"{seconds:g}s"
    if whole >= 7 * 86400 and whole % 86400 == 0:
        return f"{whole // 86400}d"
    if whole >= 3600 and whole % 3600 == 0:
        return f"{whole // 3600}h"
    if whole >= 60 and whole % 60 == 0:
        return f"{whole // 60}m"
    return f"{whole}s"


def latency(seconds: float) -> str:
    """A measured time: `0.42 ms`, `310 ms`, `6.2 s`."""
    if seconds < 1:
        return f"{seconds * 1000:.3g} ms"
    return f"{seconds:.3g} s"


def age(seconds: float) -> str:
    """How long ago, or how long left: `35 s`, `12 min`, `3.1 h`, `2.0 d`."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def percent(ratio: float) -> str:
    """A ratio 0–1 as a whole percentage: `85%`."""
    return f"{ratio * 100:.0f}%"


def size(count: float) -> str:
    """Bytes: `512 B`, `12.0 KiB`, `1.5 MiB`, `2.0 GiB`."""
    if count < 1024:
        return f"{count:.0f} B"
    for unit in ("KiB", "MiB", "GiB"):
        count /= 1024
        if count < 1024 or unit == "GiB":
            break
    return f"{count:.1f} {unit}"


def plural(count: int, word: str) -> str:
    """`1 row`, `3 rows`."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def timestamp(epoch: float) -> str:
    """A moment, UTC: `2026-11-27 16:05:00`."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def iso_timestamp(epoch: float, *, precise: bool = False) -> str:
    """A moment, UTC, ISO 8601: `2026-11-27T16:05:00Z` in a sentence; `precise`: to the millisecond, as documents
    and log lines carry it (`2026-11-27T16:05:00.123Z`)."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.isoformat(timespec="milliseconds" if precise else "seconds").replace("+00:00", "Z")


def bucket_start(epoch: float, bucket: float) -> str:
    """A time bucket by its start, as precise as the bucket: `2026-11-27`, `2026-11-27 16:00`."""
    moment = datetime.fromtimestamp(epoch, UTC)
    if bucket % 86400 == 0:
        return moment.strftime("%Y-%m-%d")
    if bucket % 60 == 0:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def value(number: Any) -> str:
    """A measured value compared in an output: `none`, `42`, `3.141592654`."""
    if number is None:
        return "none"
    if isinstance(number, float):
        return f"{number:.10g}"
    return str(number)


def about(seconds: float) -> str:
    """A time ahead, to the precision a person plans with: `40 s`, `12 min`, `3 h 10 min`, `2 d 4 h`."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def measured(number: float, unit: str | None) -> str:
    """A measured value in its unit: a ratio as a percentage, seconds as a latency or an age, bytes as a size."""
    if unit == "ratio":
        return percent(number)
    if unit == "s":
        return latency(number) if abs(number) < 60 else age(number)
    if unit == "bytes":
        return size(number)
    return f"{number:.4g}"
