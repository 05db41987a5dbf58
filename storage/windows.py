"""Quota windows as pure functions of an injected `now`, on the calendar rules of providers/calendar.py.

`key` names the calendar period in local time and is what the ledger's counters are keyed by.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from providers.calendar import first_of_next_month, local_date, local_midnight, require_aware
from providers.values import read_only_hashable

MINUTE = timedelta(seconds=60)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


@read_only_hashable
class Window:
    """A half-open interval [start, end) in UTC, with the name of the calendar period it covers."""

    start: datetime
    end: datetime
    key: str

    def __contains__(self, instant: datetime) -> bool:
        return self.start <= instant < self.end


#: the last day and month window computed per zone: most calls fall in it, and then skip the zone arithmetic
_last_day: dict[str, Window] = {}
_last_month: dict[str, Window] = {}


def day_window(now: datetime, tz: str) -> Window:
    """The calendar day of `now` in zone `tz`, from local midnight to the next local midnight."""
    last = _last_day.get(tz)
    if last is not None and require_aware(now) in last:
        return last
    window = _last_day[tz] = _day_window(now, tz)
    return window


def month_window(now: datetime, tz: str) -> Window:
    """The calendar month of `now` in zone `tz`, from local midnight of the 1st to that of the next 1st."""
    last = _last_month.get(tz)
    if last is not None and require_aware(now) in last:
        return last
    window = _last_month[tz] = _month_window(now, tz)
    return window


def _day_window(now: datetime, tz: str) -> Window:
    local_day = local_date(require_aware(now), tz)
    return Window(
        start=local_midnight(local_day, tz),
        end=local_midnight(local_day + timedelta(days=1), tz),
        key=local_day.isoformat(),
    )


def _month_window(now: datetime, tz: str) -> Window:
    first = local_date(require_aware(now), tz).replace(day=1)
    return Window(
        start=local_midnight(first, tz),
        end=local_midnight(first_of_next_month(first), tz),
        key=f"{first.year:04d}-{first.month:02d}",
    )


def to_ms(instant: datetime) -> int:
    """Unix milliseconds of an aware datetime: how the store keeps every instant (aware subtraction is in UTC
    whatever the zone, so no conversion is built; a naive datetime is refused as `require_aware` refuses it)."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        require_aware(instant)
    return (instant - _EPOCH) // _MILLISECOND


def from_ms(ms: int) -> datetime:
    """The aware UTC datetime of unix milliseconds."""
    return _EPOCH + timedelta(milliseconds=ms)
