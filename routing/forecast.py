"""Quota forecasts (README "Predictive quotas"): for one window of one account, at the rate seen since the window
began, when it runs out and how much of it would go unused at its reset. Pure: `now` is an argument.

This is the one forecast formula: routing (routing/spend_order.py) and every view (`status`, `provider_status`,
`quota_report`) use it, so what a report predicts is what the router acts on.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from providers.values import read_only_hashable
from routing.types import QuotaWindow

#: a rate measured over less than this is too noisy to forecast from (it is measured over this much at least)
MIN_ELAPSED = timedelta(minutes=5)
#: how long each period lasts, for a window whose start is not given (a month is taken as 30 days)
PERIOD_LENGTH: dict[str, timedelta] = {
    "minute": timedelta(minutes=1),
    "day": timedelta(days=1),
    "month": timedelta(days=30),
}
_HOUR_S = 3600.0


@read_only_hashable
class Outlook:
    """At the current rate: how fast the window is used, when it runs out (None: not before the reset) and how much
    of it is left unused when it resets."""

    rate_per_hour: float
    exhausted_at: datetime | None
    unused_at_reset: float


@read_only_hashable
class Forecast:
    """One quota window and its outlook."""

    kind: str
    period: str
    limit: int
    remaining: int
    resets_at: datetime | None
    rate_per_hour: float
    exhausted_at: datetime | None
    unused_at_reset: int
    #: "headers" when the provider's response headers taught the figures, else "ledger" (the router's own counts)
    source: str

    @property
    def used(self) -> int:
        return max(0, self.limit - self.remaining)

    @property
    def runs_out_before_reset(self) -> bool:
        return self.exhausted_at is not None and (self.resets_at is None or self.exhausted_at < self.resets_at)


def outlook(used: float, limit: float, start: datetime, resets_at: datetime, now: datetime) -> Outlook:
    """The outlook of a window that began at `start`, resets at `resets_at` and has `used` of `limit` used by `now`.

    The rate is the average since `start` (over MIN_ELAPSED at least, so a first call is not a stampede)."""
    left = max(0.0, limit - used)
    if left <= 0:
        return Outlook(_rate(used, start, now), now, 0.0)
    elapsed = max(now - start, min(MIN_ELAPSED, resets_at - start))
    hours = elapsed.total_seconds() / _HOUR_S
    rate = used / hours if hours > 0 and used > 0 else 0.0
    until_reset = max(0.0, (resets_at - now).total_seconds() / _HOUR_S)
    if rate <= 0:
        return Outlook(0.0, None, left)
    runs_out_in = left / rate
    if runs_out_in < until_reset:
        return Outlook(rate, now + timedelta(hours=runs_out_in), 0.0)
    return Outlook(rate, None, left - rate * until_reset)


def runs_out_before_reset(window: QuotaWindow, now: datetime) -> bool:
    """`forecast(window, now).runs_out_before_reset` for a window with something left, without building the
    forecast (decide() asks this of every account with a quota): used / elapsed × time to reset > what is left."""
    resets = window.resets_at
    left = window.remaining
    if resets is None or left <= 0:
        return False
    used = window.limit - left
    if used <= 0:
        return False
    length = PERIOD_LENGTH[window.period]
    elapsed = max(now - (resets - length), min(MIN_ELAPSED, length))
    return used * (resets - now).total_seconds() > left * elapsed.total_seconds()


def _rate(used: float, start: datetime, now: datetime) -> float:
    hours = max(now - start, MIN_ELAPSED).total_seconds() / _HOUR_S
    return used / hours if hours > 0 else 0.0


def forecast(window: QuotaWindow, now: datetime, start: datetime | None = None) -> Forecast:
    """The forecast of one window: `start` when the caller knows when the period began (a calendar month), else
    its reset minus the period's length."""
    resets = window.resets_at if window.resets_at is not None else now + PERIOD_LENGTH[window.period]
    begun = start if start is not None else resets - PERIOD_LENGTH[window.period]
    used = max(0, window.limit - window.remaining)
    seen = outlook(used, window.limit, begun, resets, now)
    return Forecast(
        kind=window.kind,
        period=window.period,
        limit=window.limit,
        remaining=window.remaining,
        resets_at=window.resets_at,
        rate_per_hour=round(seen.rate_per_hour, 3),
        exhausted_at=seen.exhausted_at,
        unused_at_reset=int(seen.unused_at_reset),
        source="headers" if window.learned_at is not None else "ledger",
    )


def describe(f: Forecast, now: datetime) -> str:
    """One line a person reads: `14 of 20 requests left, reset in 1 h, would go unused`."""
    head = f"{max(0, f.remaining)} of {f.limit} {f.kind} left"
    if f.resets_at is not None:
        head += f", reset in {_span(f.resets_at - now)}"
    if f.remaining <= 0:
        return head + ", exhausted"
    if f.exhausted_at is not None:
        return head + f", runs out in {_span(f.exhausted_at - now)} at this rate"
    if f.unused_at_reset >= f.remaining:
        return head + ", would go unused"
    if f.unused_at_reset > 0:
        return head + f", {f.unused_at_reset} would go unused at this rate"
    return head + ", lasts until the reset"


def _span(delta: timedelta) -> str:
    seconds = max(0.0, delta.total_seconds())
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    hours = seconds / 3600
    return f"{round(hours, 1):g} h" if hours < 10 else f"{hours:.0f} h"
