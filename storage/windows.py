"""Quota windows as pure functions of an injected `now`: no clock reads, no I/O.

Calendar windows start at local midnight in the account's IANA zone (Gemini's free tier resets at midnight
Pacific), so a day lasts 23, 24 or 25 hours (23.5/24.5 on Lord Howe Island) across DST changes. Every
returned instant is an aware UTC datetime; `key` names the calendar period in local time and is what the
ledger's counters are keyed by.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

MINUTE = timedelta(seconds=60)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open interval [start, end) in UTC, with the name of the calendar period it covers."""

    start: datetime
    end: datetime
    key: str

    def __contains__(self, instant: datetime) -> bool:
        return self.start <= instant < self.end


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The `ZoneInfo` for an IANA name, cached; raises `zoneinfo.ZoneInfoNotFoundError` for an unknown one."""
    return ZoneInfo(name)


def require_aware(now: datetime) -> datetime:
    """`now` converted to UTC; a naive datetime is a programming error, not a local time to guess at."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"expected an aware datetime, got naive {now.isoformat()}")
    return now.astimezone(UTC)


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    # fold=0 maps a skipped midnight (DST starting at 00:00, e.g. America/Santiago) to the instant of the jump,
    # and a repeated midnight to its first occurrence: in both cases the real start of that local day.
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def minute_window(now: datetime) -> Window:
    """The rolling minute ending at `now`: events at `start` or earlier have left it (start, end]."""
    now = require_aware(now)
    return Window(start=now - MINUTE, end=now, key="")


def day_window(now: datetime, tz: str) -> Window:
    """The calendar day of `now` in zone `tz`, from local midnight to the next local midnight."""
    zone_info = zone(tz)
    local_day = require_aware(now).astimezone(zone_info).date()
    return Window(
        start=_local_midnight(local_day, zone_info),
        end=_local_midnight(local_day + timedelta(days=1), zone_info),
        key=local_day.isoformat(),
    )


def month_window(now: datetime, tz: str) -> Window:
    """The calendar month of `now` in zone `tz`, from local midnight of the 1st to that of the next 1st."""
    zone_info = zone(tz)
    local_day = require_aware(now).astimezone(zone_info).date()
    first = local_day.replace(day=1)
    following = date(first.year + 1, 1, 1) if first.month == 12 else date(first.year, first.month + 1, 1)
    return Window(
        start=_local_midnight(first, zone_info),
        end=_local_midnight(following, zone_info),
        key=f"{first.year:04d}-{first.month:02d}",
    )


def to_ms(instant: datetime) -> int:
    """Unix milliseconds of an aware datetime: how the store keeps every instant."""
    return (require_aware(instant) - _EPOCH) // timedelta(milliseconds=1)


def from_ms(ms: int) -> datetime:
    """The aware UTC datetime of unix milliseconds."""
    return _EPOCH + timedelta(milliseconds=ms)
