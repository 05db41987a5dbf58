"""Window arithmetic at day and month boundaries, across DST, in several zones, with an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage.windows import day_window, from_ms, month_window, to_ms


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# (zone, an instant inside the local day, expected start, expected end, key)
DAYS = [
    ("UTC", "2026-11-28T00:00:00", "2026-11-28T00:00:00", "2026-11-29T00:00:00", "2026-11-28"),
    ("UTC", "2026-11-28T23:59:59.999", "2026-11-28T00:00:00", "2026-11-29T00:00:00", "2026-11-28"),
    # Gemini's quota day: midnight Pacific is 08:00 UTC in winter.
    ("America/Los_Angeles", "2026-11-28T07:59:59", "2026-11-27T08:00:00", "2026-11-28T08:00:00", "2026-11-27"),
    ("America/Los_Angeles", "2026-11-28T08:00:00", "2026-11-28T08:00:00", "2026-11-29T08:00:00", "2026-11-28"),
    # DST starts: a 23-hour day; DST ends: a 25-hour day.
    ("America/Los_Angeles", "2026-03-08T20:00:00", "2026-03-08T08:00:00", "2026-03-09T07:00:00", "2026-03-08"),
    ("America/Los_Angeles", "2026-11-01T20:00:00", "2026-11-01T07:00:00", "2026-11-02T08:00:00", "2026-11-01"),
    ("Europe/Berlin", "2026-03-29T12:00:00", "2026-03-28T23:00:00", "2026-03-29T22:00:00", "2026-03-29"),
    ("Europe/Berlin", "2026-10-25T12:00:00", "2026-10-24T22:00:00", "2026-10-25T23:00:00", "2026-10-25"),
    # Lord Howe Island moves its clocks by 30 minutes: 24.5- and 23.5-hour days.
    ("Australia/Lord_Howe", "2026-04-05T01:00:00", "2026-04-04T13:00:00", "2026-04-05T13:30:00", "2026-04-05"),
    ("Australia/Lord_Howe", "2026-10-04T01:00:00", "2026-10-03T13:30:00", "2026-10-04T13:00:00", "2026-10-04"),
    ("Asia/Kolkata", "2026-11-28T18:29:59", "2026-11-27T18:30:00", "2026-11-28T18:30:00", "2026-11-28"),
    ("Asia/Kolkata", "2026-11-28T18:30:00", "2026-11-28T18:30:00", "2026-11-29T18:30:00", "2026-11-29"),
    # Chile starts DST at midnight: that local day begins at the jump (01:00 local).
    ("America/Santiago", "2026-09-06T12:00:00", "2026-09-06T04:00:00", "2026-09-07T03:00:00", "2026-09-06"),
    # Leap day, and the last day of a year.
    ("UTC", "2028-02-29T12:00:00", "2028-02-29T00:00:00", "2028-03-01T00:00:00", "2028-02-29"),
    ("Asia/Kolkata", "2026-12-31T18:30:00", "2026-12-31T18:30:00", "2027-01-01T18:30:00", "2027-01-01"),
]


@pytest.mark.parametrize(("tz", "instant", "start", "end", "key"), DAYS)
def test_day_window_runs_from_local_midnight_to_the_next(tz: str, instant: str, start: str, end: str, key: str) -> None:
    window = day_window(utc(instant), tz)
    assert (window.start, window.end, window.key) == (utc(start), utc(end), key)
    assert utc(instant) in window


MONTHS = [
    ("UTC", "2026-02-14T00:00:00", "2026-02-01T00:00:00", "2026-03-01T00:00:00", "2026-02"),
    ("UTC", "2028-02-14T00:00:00", "2028-02-01T00:00:00", "2028-03-01T00:00:00", "2028-02"),
    # A month that contains a DST change has start and end at different UTC offsets.
    ("America/Los_Angeles", "2026-11-15T00:00:00", "2026-11-01T07:00:00", "2026-12-01T08:00:00", "2026-11"),
    ("America/Los_Angeles", "2026-12-01T07:59:59", "2026-11-01T07:00:00", "2026-12-01T08:00:00", "2026-11"),
    ("America/Los_Angeles", "2026-12-01T08:00:00", "2026-12-01T08:00:00", "2027-01-01T08:00:00", "2026-12"),
    ("Europe/Berlin", "2026-03-31T21:59:59", "2026-02-28T23:00:00", "2026-03-31T22:00:00", "2026-03"),
    ("Australia/Lord_Howe", "2026-10-10T00:00:00", "2026-09-30T13:30:00", "2026-10-31T13:00:00", "2026-10"),
    # New Year in Kolkata comes 5h30 before New Year in UTC.
    ("Asia/Kolkata", "2026-12-31T18:30:00", "2026-12-31T18:30:00", "2027-01-31T18:30:00", "2027-01"),
    ("Asia/Kolkata", "2026-12-31T18:29:59", "2026-11-30T18:30:00", "2026-12-31T18:30:00", "2026-12"),
]


@pytest.mark.parametrize(("tz", "instant", "start", "end", "key"), MONTHS)
def test_month_window_runs_from_the_first_to_the_next_first(
    tz: str, instant: str, start: str, end: str, key: str
) -> None:
    window = month_window(utc(instant), tz)
    assert (window.start, window.end, window.key) == (utc(start), utc(end), key)


def test_leap_february_has_29_days_and_common_february_28() -> None:
    leap = month_window(utc("2028-02-10T00:00:00"), "Europe/Berlin")
    common = month_window(utc("2026-02-10T00:00:00"), "Europe/Berlin")
    assert leap.end - leap.start == timedelta(days=29)
    assert common.end - common.start == timedelta(days=28)


def test_consecutive_days_tile_time_without_gaps_across_a_dst_change() -> None:
    instant = utc("2026-10-01T00:00:00")
    for _ in range(10):
        window = day_window(instant, "Australia/Lord_Howe")
        following = day_window(window.end, "Australia/Lord_Howe")
        assert following.start == window.end
        instant = window.end


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        day_window(datetime(2026, 11, 28, 12), "UTC")


def test_milliseconds_round_trip_exactly() -> None:
    instant = datetime(2026, 11, 28, 12, 0, 0, 123000, tzinfo=UTC)
    assert from_ms(to_ms(instant)) == instant
    assert to_ms(datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=UTC)) == 1


def test_windows_asked_for_back_and_forth_across_boundaries_are_those_of_each_instant() -> None:
    instants = [utc("2026-11-28T07:59:59"), utc("2026-11-28T08:00:00"), utc("2026-12-01T08:00:00"),
                utc("2026-11-28T07:59:59"), utc("2026-10-31T23:00:00"), utc("2026-11-28T08:00:00")]  # fmt: skip
    for instant in instants:
        day, month = day_window(instant, "America/Los_Angeles"), month_window(instant, "America/Los_Angeles")
        assert instant in day and instant in month
        assert day.end - day.start in (timedelta(hours=23), timedelta(hours=24), timedelta(hours=25))
        assert month.key == day.key[:7]
