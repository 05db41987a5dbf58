"""Calendar arithmetic in an IANA zone (local midnights, month starts): the one place these rules live.

Pure functions of the instant they are given. A local day lasts 23, 24 or 25 hours (23.5/24.5 on Lord Howe
Island) across DST changes; every returned instant is an aware UTC datetime.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The `ZoneInfo` for an IANA name, cached; raises `zoneinfo.ZoneInfoNotFoundError` for an unknown one."""
    return ZoneInfo(name)


def require_aware(now: datetime) -> datetime:
    """`now` converted to UTC; a naive datetime is a programming error, not a local time to guess at."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"expected an aware datetime, got naive {now.isoformat()}")
    return now.astimezone(UTC)


def _as_utc(now: datetime) -> datetime:
    # providers hand over instants parsed from headers, where a naive value means UTC
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def local_midnight(day: date, tz: str) -> datetime:
    """The instant local `day` begins in zone `tz`, in UTC."""
    # fold=0 maps a skipped midnight (DST starting at 00:00, e.g. America/Santiago) to the instant of the jump,
    # and a repeated midnight to its first occurrence: in both cases the real start of that local day.
    return datetime.combine(day, time(0), tzinfo=zone(tz)).astimezone(UTC)


def local_date(now: datetime, tz: str) -> date:
    """The calendar day `now` falls on in zone `tz` (a naive `now` is taken as UTC)."""
    return _as_utc(now).astimezone(zone(tz)).date()


def first_of_next_month(day: date) -> date:
    """The 1st of the month after `day`'s."""
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def next_midnight(now: datetime, tz: str) -> datetime:
    """The first local midnight in zone `tz` strictly after `now` (a naive `now` is taken as UTC), in UTC."""
    return local_midnight(local_date(now, tz) + timedelta(days=1), tz)


def next_month_start(now: datetime, tz: str) -> datetime:
    """Local midnight of the 1st of the month after `now`'s in zone `tz` (a naive `now` is taken as UTC), in UTC."""
    return local_midnight(first_of_next_month(local_date(now, tz)), tz)
