"""Quota windows and budget room of one account, as routing reads them: storage's counted usage, learned and
header-reported limits, and health turned into `QuotaWindow`s and dollars left."""

from __future__ import annotations

from datetime import datetime, timedelta

from providers.models import Account, ProviderConfig, QuotaSpec
from routing.preferences import Preferences
from routing.types import QuotaWindow
from storage import (
    Health,
    Usages,
    WindowUsage,
)


def latest_active(*times: datetime | None, now: datetime) -> datetime | None:
    """The latest of `times` still in the future at `now` (None when none is)."""
    if not any(times):
        return None  # the usual case: nothing recorded
    active = [t for t in times if t is not None and t > now]
    return max(active, default=None)


def quota_windows(
    quota: QuotaSpec, usage: Usages, health: Health, now: datetime, model_minute: WindowUsage | None = None
) -> tuple[QuotaWindow, ...]:
    """What is left of each configured (or header-learned) limit of an account.

    A learned limit is the model's own (`health` of the account+model): it is measured against the model's rolling
    minute (`model_minute`) when given, as the ledger does."""
    if health.learned_requests_limit is None and health.learned_tokens_limit is None and _unlimited(quota):
        return ()  # no limit known: the usual pay-as-you-go account (checked on every candidate of every request)
    minute_reset = now + timedelta(minutes=1)
    learned = health.learned_at
    rows: list[tuple[str, str, int | None, int, datetime | None, datetime | None]] = [
        *(_minute_row(kind, mine, configured, usage.minute, model_minute, minute_reset, learned)
          for kind, mine, configured in (("requests", health.learned_requests_limit, quota.requests_per_minute),
                                         ("tokens", health.learned_tokens_limit, quota.tokens_per_minute))),
        ("requests", "day", quota.requests_per_day, usage.day.requests, usage.day_resets_at, None),
        ("tokens", "day", quota.tokens_per_day, usage.day.tokens, usage.day_resets_at, None),
        ("requests", "month", quota.requests_per_month, usage.month.requests, usage.month_resets_at, None),
        ("tokens", "month", quota.tokens_per_month, usage.month.tokens, usage.month_resets_at, None),
    ]  # fmt: skip
    return tuple(
        QuotaWindow(
            kind=kind,
            period=period,
            limit=limit,
            remaining=_left(limit - used, period, kind, health),
            resets_at=_header_reset(resets, period, kind, health),
            learned_at=taught,
        )
        for kind, period, limit, used, resets, taught in rows
        if limit is not None
    )


def _unlimited(quota: QuotaSpec) -> bool:
    """Whether no limit is configured (the zone alone makes no window)."""
    return (
        quota.requests_per_minute is None
        and quota.tokens_per_minute is None
        and quota.requests_per_day is None
        and quota.tokens_per_day is None
        and quota.requests_per_month is None
        and quota.tokens_per_month is None
    )


def _left(counted: int, period: str, kind: str, health: Health) -> int:
    """What is left of a window: the ledger's count, or less when the provider's headers said so (per minute)."""
    said = health.requests_left if kind == "requests" else health.tokens_left
    return counted if period != "minute" or said is None else min(counted, said)


def _header_reset(resets: datetime | None, period: str, kind: str, health: Health) -> datetime | None:
    until = health.requests_left_until if kind == "requests" else health.tokens_left_until
    return until if period == "minute" and until is not None else resets


def _minute_row(
    kind: str,
    learned: int | None,
    configured: int | None,
    account_minute: WindowUsage,
    model_minute: WindowUsage | None,
    resets: datetime,
    learned_at: datetime | None,
) -> tuple[str, str, int | None, int, datetime | None, datetime | None]:
    if learned is None:
        used = account_minute.requests if kind == "requests" else account_minute.tokens
        return kind, "minute", configured, used, resets, None
    minute = model_minute if model_minute is not None else account_minute
    used = minute.requests if kind == "requests" else minute.tokens
    return kind, "minute", learned, used, resets, learned_at


def budget_left(account: Account, usage: Usages, prefs: Preferences, global_usage: Usages) -> float | None:
    """The smallest USD budget left among the account's and the global daily/monthly caps (None: no cap)."""
    left = [
        cap - spent
        for cap, spent in (
            (account.budget.daily_usd, usage.day.cost_usd),
            (account.budget.monthly_usd, usage.month.cost_usd),
            (prefs.budget.daily_usd, global_usage.day.cost_usd),
            (prefs.budget.monthly_usd, global_usage.month.cost_usd),
        )
        if cap is not None
    ]
    return max(0.0, min(left)) if left else None


def pool_cursor(provider: ProviderConfig, last_account: str | None) -> int:
    """The pool index the round-robin cursor points to next: the one after the account chosen last."""
    ids = [account.id for account in provider.accounts]
    return (ids.index(last_account) + 1) % len(ids) if last_account in ids else 0


#: how long a latency estimate serves the views after the one that read it (by the injected clock): the estimate
#: moves slowly, and its rows cost more to read than the rest of the state
