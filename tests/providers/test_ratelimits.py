from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from providers.errors import MAX_MESSAGE_CHARS, ServerError
from providers.ratelimits import (
    header_int,
    learnable,
    parse_go_duration,
    parse_openai_limits,
    parse_reset,
    parse_retry_after,
    parse_seconds,
    parse_timestamp,
    plausible_limit,
)
from providers.types import RateLimits

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("6m0s", 360.0), ("1m26.4s", 86.4), ("120ms", 0.12), ("2ms", 0.002), ("0s", 0.0), ("1h2m", 3720.0),
     ("", None), ("abc", None), ("5x", None), ("1m junk", None)],
)  # fmt: skip
def test_go_durations_read_as_seconds(text: str, seconds: float | None) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds) if seconds is not None else parse_go_duration(text) is None


def test_plain_seconds_and_durations_both_read() -> None:
    assert parse_seconds("20") == 20.0
    assert parse_seconds("1.5") == 1.5
    assert parse_seconds("1m0s") == 60.0
    assert parse_seconds("-3") is None


def test_timestamps_are_aware() -> None:
    assert parse_timestamp("2026-02-17T23:44:11Z") == datetime(2026, 2, 17, 23, 44, 11, tzinfo=UTC)
    assert parse_timestamp("2026-02-17T23:44:11") == datetime(2026, 2, 17, 23, 44, 11, tzinfo=UTC)
    assert parse_timestamp("not a time") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("6m0s", NOW + timedelta(minutes=6)),
        ("30", NOW + timedelta(seconds=30)),
        ("1795867200", datetime.fromtimestamp(1795867200, tz=UTC)),
        ("1795867200000", datetime.fromtimestamp(1795867200, tz=UTC)),
        ("2026-11-28T12:05:00Z", NOW + timedelta(minutes=5)),
        ("1e300", None),
        ("garbage", None),
    ],
)
def test_reset_headers_in_every_form_become_absolute_times(text: str, expected: datetime | None) -> None:
    assert parse_reset(text, NOW) == expected


def test_retry_after_prefers_milliseconds_then_seconds_then_an_http_date() -> None:
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}, NOW) == 1.5
    assert parse_retry_after({"retry-after": "9"}, NOW) == 9.0
    assert parse_retry_after({"retry-after": "Sat, 28 Nov 2026 12:00:30 GMT"}, NOW) == 30.0
    assert parse_retry_after({"retry-after": "Sat, 28 Nov 2026 11:00:00 GMT"}, NOW) == 0.0
    assert parse_retry_after({"retry-after": "soon"}, NOW) is None
    assert parse_retry_after({}, NOW) is None


def test_integer_headers_tolerate_floats_and_garbage() -> None:
    assert header_int({"x": "42"}, "x") == 42
    assert header_int({"x": "42.0"}, "x") == 42
    assert header_int({"x": "n/a"}, "x") is None
    assert header_int({}, "x") is None


@pytest.mark.parametrize(("value", "kept"), [(None, None), (0, None), (-1, None), (10**10, None), (1, 1), (60, 60)])
def test_only_a_positive_sane_limit_is_plausible(value: int | None, kept: int | None) -> None:
    assert plausible_limit(value) == kept


def test_a_zero_limit_and_its_remaining_count_are_not_learnable() -> None:
    said = RateLimits(
        requests_limit=0,
        requests_remaining=0,
        requests_reset_at=NOW + timedelta(days=1),
        tokens_limit=40_000,
        tokens_remaining=0,
        tokens_reset_at=NOW + timedelta(seconds=5),
    )
    assert learnable(said) == RateLimits(
        tokens_limit=40_000, tokens_remaining=0, tokens_reset_at=NOW + timedelta(seconds=5)
    )
    assert learnable(RateLimits(requests_remaining=0)) == RateLimits(requests_remaining=0)


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e400", "-1", "1e300"])
def test_an_impossible_count_header_is_no_information(value: str) -> None:
    assert header_int({"x": value}, "x") is None


@pytest.mark.parametrize("value", ["inf", "nan", "1e400", "-5", "1e300"])
def test_an_impossible_retry_after_is_none(value: str) -> None:
    assert parse_retry_after({"retry-after": value}, NOW) is None
    assert parse_retry_after({"retry-after-ms": value}, NOW) is None


@pytest.mark.parametrize("value", ["inf", "nan", "1e400"])
def test_openai_style_headers_saying_inf_parse_to_nothing(value: str) -> None:
    headers = dict.fromkeys(("x-ratelimit-limit-requests", "x-ratelimit-reset-requests", "retry-after"), value)
    assert parse_openai_limits(headers, NOW).is_empty


def test_an_error_keeps_no_impossible_retry_hint_and_a_short_message() -> None:
    error = ServerError("x" * 100_000, provider="p", account="a", status_code=500, retry_after_s=math.inf)
    assert error.retry_after_s is None
    assert len(error.message) == MAX_MESSAGE_CHARS
