"""Calendar arithmetic in a zone: local midnights and month starts, across DST and year ends."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from providers.calendar import first_of_next_month, next_midnight, next_month_start, require_aware


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 11, 28, 7, 59, tzinfo=UTC), datetime(2026, 11, 28, 8, 0, tzinfo=UTC)),
        (datetime(2026, 11, 28, 8, 0, tzinfo=UTC), datetime(2026, 11, 29, 8, 0, tzinfo=UTC)),
        (datetime(2026, 7, 1, 12, 0, tzinfo=UTC), datetime(2026, 7, 2, 7, 0, tzinfo=UTC)),  # PDT, UTC-7
        (datetime(2026, 3, 8, 9, 0, tzinfo=UTC), datetime(2026, 3, 9, 7, 0, tzinfo=UTC)),  # the spring-forward day
        (datetime(2026, 11, 28, 12, 0), datetime(2026, 11, 29, 8, 0, tzinfo=UTC)),  # naive is UTC
    ],
)
def test_the_next_pacific_midnight_follows_daylight_saving(now: datetime, expected: datetime) -> None:
    assert next_midnight(now, "America/Los_Angeles") == expected


def test_the_next_pacific_month_start_rolls_over_the_year() -> None:
    assert next_month_start(datetime(2026, 12, 15, tzinfo=UTC), "America/Los_Angeles") == datetime(
        2027, 1, 1, 8, 0, tzinfo=UTC
    )
    assert next_month_start(datetime(2026, 12, 15), "America/Los_Angeles") == datetime(2027, 1, 1, 8, 0, tzinfo=UTC)


def test_the_next_month_start_in_utc_is_computed_from_the_utc_date() -> None:
    late_pacific = datetime(2026, 11, 30, 20, 0, tzinfo=ZoneInfo("America/Los_Angeles"))  # Dec 1, 04:00 UTC
    assert next_month_start(late_pacific, "UTC") == datetime(2027, 1, 1, tzinfo=UTC)


def test_a_midnight_skipped_by_daylight_saving_starts_the_day_at_the_jump() -> None:
    # America/Santiago springs forward at 00:00 on 2026-09-06: the local day begins at 01:00 (04:00 UTC)
    assert next_midnight(datetime(2026, 9, 5, 12, 0, tzinfo=UTC), "America/Santiago") == datetime(
        2026, 9, 6, 4, 0, tzinfo=UTC
    )


def test_the_first_of_next_month_rolls_over_december() -> None:
    assert first_of_next_month(date(2026, 12, 31)) == date(2027, 1, 1)
    assert first_of_next_month(date(2026, 2, 14)) == date(2026, 3, 1)


def test_a_naive_instant_is_refused_where_awareness_is_required() -> None:
    with pytest.raises(ValueError, match="aware"):
        require_aware(datetime(2026, 1, 1))
