"""`quota_report` (the tool, `provider-router quota`): each account's use of the day or month and its forecast."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from providers.models import Account, BudgetSpec, ProviderConfig, QuotaSpec
from providers.types import Frozen
from routing.forecast import outlook
from server.views.common import (
    Period,
    QuotaUse,
    app_problems,
    learned_limits,
    quota_use,
    selected_providers,
)
from server.wiring import App, quota_windows
from storage import AccountState, Health, Usages, WindowUsage
from storage.windows import day_window, month_window


class AccountQuota(Frozen):
    """One account's use of the period, its limits, and when it runs out at the current rate."""

    provider: str
    account: str
    period: Period
    period_start: datetime
    resets_at: datetime
    requests_used: int
    requests_limit: int | None = None
    tokens_used: int
    tokens_limit: int | None = None
    spend_usd: float
    budget_usd: float | None = None
    #: the first limit to run out at the rate seen since the period started (None: none before the reset)
    forecast_exhausted_at: datetime | None = None
    forecast_limit: Literal["requests", "tokens", "budget"] | None = None
    forecast: str
    #: per-minute limits response headers taught for its models, still in force
    learned_limits: list[QuotaUse] = Field(default_factory=list)
    #: every window of the account (minute, day, month) with its forecast: rate, exhaustion, what goes unused
    windows: list[QuotaUse] = Field(default_factory=list)


class ProviderQuota(Frozen):
    id: str
    spend_usd: float
    budget_usd: float | None = None
    accounts: list[AccountQuota] = Field(default_factory=list)


class QuotaReport(Frozen):
    period: Period
    generated_at: datetime
    problems: list[str] = Field(default_factory=list)
    spend_usd: float = Field(description="spent this period over all providers")
    budget_usd: float | None = Field(default=None, description="the global cap of this period (None: none)")
    providers: list[ProviderQuota] = Field(default_factory=list)


def _limits(quota: QuotaSpec, budget: BudgetSpec, period: Period) -> tuple[int | None, int | None, float | None]:
    if period == "day":
        return quota.requests_per_day, quota.tokens_per_day, budget.daily_usd
    return quota.requests_per_month, quota.tokens_per_month, budget.monthly_usd


def _forecast(
    used: dict[str, float], limits: dict[str, float | None], start: datetime, resets_at: datetime, now: datetime
) -> tuple[datetime | None, str | None, str]:
    """When the first limit runs out at the average rate since `start`, if before `resets_at` (routing/forecast.py's
    formula, the one routing acts on)."""
    first: tuple[datetime, str] | None = None
    for name, limit in limits.items():
        if limit is None:
            continue
        if used[name] >= limit:
            return now, name, f"{name} exhausted; resets at {resets_at.isoformat(timespec='minutes')}"
        at = outlook(used[name], limit, start, resets_at, now).exhausted_at
        if at is not None and (first is None or at < first[0]):
            first = (at, name)
    if first is not None:
        return first[0], first[1], f"{first[1]} run out around {first[0].isoformat(timespec='minutes')} at this rate"
    if all(limit is None for limit in limits.values()):
        return None, None, "no limit configured"
    return None, None, "lasts until the reset at this rate"


def _account_quota(
    provider: ProviderConfig, account: Account, state: AccountState | None, period: Period, now: datetime
) -> AccountQuota:
    tz = account.quota.timezone
    window = day_window(now, tz) if period == "day" else month_window(now, tz)
    usage: WindowUsage = WindowUsage()
    if state is not None:
        usage = state.usage.day if period == "day" else state.usage.month
    requests_limit, tokens_limit, budget = _limits(account.quota, account.budget, period)
    at, limit_name, text = _forecast(
        {"requests": usage.requests, "tokens": usage.tokens, "budget": usage.cost_usd},
        {"requests": requests_limit, "tokens": tokens_limit, "budget": budget},
        window.start,
        window.end,
        now,
    )
    return AccountQuota(
        provider=provider.id,
        account=account.id,
        period=period,
        period_start=window.start,
        resets_at=window.end,
        requests_used=usage.requests,
        requests_limit=requests_limit,
        tokens_used=usage.tokens,
        tokens_limit=tokens_limit,
        spend_usd=round(usage.cost_usd, 6),
        budget_usd=budget,
        forecast_exhausted_at=at,
        forecast_limit=limit_name,
        forecast=text,
        learned_limits=learned_limits(state, list(provider.models), now),
        windows=_windows(account, state, now),
    )


def _windows(account: Account, state: AccountState | None, now: datetime) -> list[QuotaUse]:
    """Every window of the account with its forecast (untouched ones too: all of it would go unused)."""
    tz = account.quota.timezone
    if state is None:
        empty = WindowUsage()
        usage = Usages(empty, empty, empty, day_window(now, tz).end, month_window(now, tz).end)
        health = Health()
    else:
        usage, health = state.usage, state.health
    return [quota_use(w, now, tz=tz) for w in quota_windows(account.quota, usage, health, now)]


async def quota_report(
    app: App, period: Period = "day", provider: str | None = None, *, now: datetime | None = None
) -> QuotaReport:
    """Requests, tokens and spend of the current day or month per provider and account, with a forecast.

    Raises:
        ValueError: `provider` names no configured provider (the message lists the configured ones).
    """
    app.refresh()
    now = now or app.clock()
    providers = selected_providers(app, provider)
    snapshot = await app.ledger.snapshot([a for p in providers for a in p.accounts], now)
    lines = [
        ProviderQuota(
            id=p.id,
            spend_usd=0.0,
            budget_usd=p.budget.daily_usd if period == "day" else p.budget.monthly_usd,
            accounts=[_account_quota(p, a, snapshot.accounts.get(a.id), period, now) for a in p.accounts],
        )
        for p in providers
    ]
    lines = [line.model_copy(update={"spend_usd": round(sum(a.spend_usd for a in line.accounts), 6)}) for line in lines]
    global_usage = snapshot.global_usage.day if period == "day" else snapshot.global_usage.month
    budget = app.config.preferences.budget
    return QuotaReport(
        period=period,
        generated_at=now,
        problems=app_problems(app),
        spend_usd=round(global_usage.cost_usd, 6),
        budget_usd=budget.daily_usd if period == "day" else budget.monthly_usd,
        providers=lines,
    )
