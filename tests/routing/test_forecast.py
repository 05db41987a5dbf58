"""Quota forecasts: at the rate seen since the window began, when it runs out versus when it resets, and how much
would go unused; one formula for routing and every view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from routing.forecast import MIN_ELAPSED, describe, forecast, outlook, runs_out_before_reset
from routing.types import QuotaWindow

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
MIDNIGHT = NOW.replace(hour=0)
TOMORROW = MIDNIGHT + timedelta(days=1)


def day(limit: int, remaining: int, *, learned: bool = False) -> QuotaWindow:
    return QuotaWindow(
        kind="requests",
        period="day",
        limit=limit,
        remaining=remaining,
        resets_at=TOMORROW,
        learned_at=NOW if learned else None,
    )


def test_a_window_used_fast_runs_out_before_its_reset_at_the_rate_seen_since_it_began() -> None:
    f = forecast(day(20, 8), NOW)  # 12 used in 12 h: 1 an hour, 8 left
    assert f.rate_per_hour == 1.0
    assert f.exhausted_at == NOW + timedelta(hours=8)
    assert f.runs_out_before_reset and f.unused_at_reset == 0


def test_a_window_used_slowly_leaves_the_rest_unused_at_its_reset() -> None:
    f = forecast(day(100, 94), NOW)  # 6 in 12 h: half an hour, 6 more before midnight
    assert f.exhausted_at is None
    assert f.unused_at_reset == 88
    assert describe(f, NOW) == "94 of 100 requests left, reset in 12 h, 88 would go unused at this rate"


def test_an_untouched_window_would_go_unused_entirely() -> None:
    f = forecast(day(20, 20), NOW)
    assert f.rate_per_hour == 0 and f.unused_at_reset == 20
    assert describe(f, NOW) == "20 of 20 requests left, reset in 12 h, would go unused"


def test_an_exhausted_window_is_exhausted_now() -> None:
    f = forecast(day(20, 0), NOW)
    assert f.exhausted_at == NOW and f.unused_at_reset == 0
    assert describe(f, NOW).endswith("exhausted")


def test_a_rate_just_after_the_start_is_measured_over_the_minimum_span_not_a_stampede() -> None:
    just_after = MIDNIGHT + timedelta(seconds=10)
    seen = outlook(1, 20, MIDNIGHT, TOMORROW, just_after)
    assert seen.rate_per_hour == 1 / (MIN_ELAPSED.total_seconds() / 3600)


def test_the_forecast_says_where_its_figures_came_from() -> None:
    assert forecast(day(20, 10), NOW).source == "ledger"
    assert forecast(day(20, 10, learned=True), NOW).source == "headers"


def test_the_quick_run_out_check_agrees_with_the_forecast_on_every_window() -> None:
    for hours in (0.01, 1, 6, 12, 23.9):
        now = MIDNIGHT + timedelta(hours=hours)
        for remaining in range(0, 21):
            window = day(20, remaining)
            assert runs_out_before_reset(window, now) == (
                remaining > 0 and forecast(window, now).runs_out_before_reset
            ), (hours, remaining)
