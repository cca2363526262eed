"""Time buckets in a time zone, drawn as ClickHouse draws them: where each bucket starts, the next one, and its label.

Buckets that divide a day count from local midnight (an hour is `toStartOfHour`, a day `toStartOfDay`/`toDate`), so
a day across a DST change has 23 or 25 hours and half-hour zones get half-past buckets; whole days are local dates.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from app import units

DAY = 86400
MAX_BUCKETS = 10_000  # per query: lookback / bucket, so results stay far below max_result_rows
_EPOCH_DAY = date(1970, 1, 1).toordinal()
# Zone names that are UTC all year: their buckets are plain epoch arithmetic, as before time zones were known.
UTC_NAMES = frozenset(
    {"UTC", "UCT", "Zulu", "Universal", "GMT", "GMT0", "GMT+0", "GMT-0", "Greenwich"}
    | {f"Etc/{name}" for name in ("UTC", "UCT", "Zulu", "Universal", "GMT", "GMT0", "GMT+0", "GMT-0", "Greenwich")}
)


def window_problem(bucket: float, lookback: float) -> str | None:
    """What is wrong with a bucketed lookback window, as a config error (None: nothing): the one rule of the
    `timeseries` and `consistency` kinds."""
    if bucket != int(bucket):
        return "bucket must be a whole number of seconds"
    if lookback < bucket:
        return "lookback must be at least one bucket"
    if lookback / bucket > MAX_BUCKETS:
        return f"lookback / bucket must be at most {MAX_BUCKETS} buckets"
    return None


def _utc_zone() -> ZoneInfo:
    """UTC, even where no time zone database is installed (a bare image): a one-type TZif file needs none."""
    try:
        return ZoneInfo("UTC")
    except ZoneInfoNotFoundError:
        header = b"TZif" + bytes(16) + struct.pack(">6l", 0, 0, 0, 0, 1, 4)  # one type, 4 chars of names
        return ZoneInfo.from_file(io.BytesIO(header + struct.pack(">lbB", 0, 0, 0) + b"UTC\0"), key="UTC")


UTC_ZONE = _utc_zone()


class UnknownZone(ValueError):
    """A time zone name that the IANA database Vigil has does not know."""


def zone(name: str) -> ZoneInfo:
    """An IANA zone by name (`Europe/Berlin`, `Asia/Kolkata`, `UTC`); UnknownZone for anything else."""
    if not name or name.startswith(("/", ".")) or ".." in name:
        raise UnknownZone(f"{name!r} is not an IANA time zone name")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        if name in UTC_NAMES:  # no time zone database here: UTC still works
            return UTC_ZONE
        if not available_timezones():
            raise UnknownZone(f"{name!r}: no time zone database here (install tzdata)") from None
        raise UnknownZone(f"{name!r} is not an IANA time zone name (e.g. Europe/Berlin, Asia/Kolkata, UTC)") from None


def is_utc(tz: ZoneInfo) -> bool:
    return tz.key in UTC_NAMES


@dataclass(frozen=True, slots=True)
class Buckets:
    """Buckets of `size` seconds in `tz`: whole days are local dates (aligned to 1970-01-01 in that zone), sizes
    that divide a day count from local midnight, and any other size counts from the Unix epoch."""

    size: int
    tz: ZoneInfo = UTC_ZONE

    @property
    def zone_name(self) -> str:
        return self.tz.key

    @property
    def utc(self) -> bool:
        return is_utc(self.tz)

    @property
    def days(self) -> int:
        """How many days a bucket is, or 0 for buckets shorter than a day or not whole days."""
        return self.size // DAY if self.size % DAY == 0 else 0

    @property
    def within_day(self) -> bool:
        """Buckets that divide a day (1h, 15m, 6h ...), counted from local midnight."""
        return self.size < DAY and DAY % self.size == 0

    @property
    def nests_in_days(self) -> bool:
        """Whether every bucket lies inside one local day or is made of whole local days."""
        return bool(self.days) or self.within_day

    def _midnight(self, day_number: int) -> int:
        return _midnight(self.tz, day_number)

    def _day_number(self, epoch: int) -> int:
        return datetime.fromtimestamp(epoch, self.tz).date().toordinal() - _EPOCH_DAY

    def floor(self, epoch: int) -> int:
        """The start of the bucket holding `epoch`."""
        if self.utc or not self.nests_in_days:
            return epoch // self.size * self.size
        day = self._day_number(epoch)
        if self.days:
            return self._midnight(day - day % self.days)
        start = self._midnight(day)
        return start + (epoch - start) // self.size * self.size

    def next(self, start: int) -> int:
        """The start of the bucket after the one starting at `start` (a day's last bucket may be cut short)."""
        if self.utc or not self.nests_in_days:
            return start + self.size
        day = self._day_number(start)
        if self.days:
            return self._midnight(day + self.days)
        return min(start + self.size, self._midnight(day + 1))

    def ceil(self, epoch: int) -> int:
        """The start of the first bucket starting at or after `epoch`."""
        start = self.floor(epoch)
        return start if start == epoch else self.next(start)

    def starts(self, first: int, end: int) -> list[int]:
        """Every bucket start in [first, end), `first` being a bucket start."""
        if self.utc or not self.nests_in_days:
            return list(range(first, end, self.size))
        found: list[int] = []
        day = self._day_number(first)
        while first < end:
            if self.days:
                found.append(first)
                day += self.days
                first = self._midnight(day)
            else:  # the rest of this local day, then the next one from its midnight
                day += 1
                midnight = self._midnight(day)
                found.extend(range(first, min(midnight, end), self.size))
                first = midnight
        return found

    def label(self, epoch: int) -> str:
        """A bucket by its start, as precise as the bucket, in its zone and naming it unless UTC: `2026-03-29 16:00`
        (UTC), `2026-03-29 Europe/Berlin`, `2026-03-29 03:00 Europe/Berlin`; an hour that happens twice (clocks going
        back) also gets its offset: `2026-10-25 02:00 Europe/Berlin (UTC+02:00)`."""
        if self.utc:
            return units.bucket_start(epoch, self.size)
        local = datetime.fromtimestamp(epoch, self.tz)
        if self.size % DAY == 0:
            return f"{local.strftime('%Y-%m-%d')} {self.zone_name}"
        text = local.strftime("%Y-%m-%d %H:%M" if self.size % 60 == 0 else "%Y-%m-%d %H:%M:%S")
        text += f" {self.zone_name}"
        if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():  # the hour clocks go back over
            text += f" ({utc_offset(local)})"
        return text


@lru_cache(maxsize=4096)
def _midnight(tz: ZoneInfo, day_number: int) -> int:
    """The first instant of a local date (days since 1970-01-01): where a DST change skips midnight, the moment the
    clock jumps, as ClickHouse's toStartOfDay has it. Cached: rollups ask for the same few days thousands of times."""
    local = datetime.combine(date.fromordinal(day_number + _EPOCH_DAY), time(), tzinfo=tz)
    return int(local.timestamp())


def utc_offset(moment: datetime) -> str:
    """`UTC+05:30`, `UTC-04:00`."""
    offset = moment.utcoffset()
    total = int(offset.total_seconds()) if offset is not None else 0
    hours, minutes = divmod(abs(total) // 60, 60)
    return f"UTC{'-' if total < 0 else '+'}{hours:02d}:{minutes:02d}"
