"""What several views share: health and period names, one limit's use, the providers asked for."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import Field

from providers.models import ProviderConfig, QuotaSpec
from providers.types import Frozen
from routing.forecast import describe, forecast
from routing.types import QuotaWindow
from server.wiring import App, quota_windows
from storage import AccountState
from storage.accounts import LEARNED_LIMIT_TTL
from storage.windows import month_window

HealthState = Literal["healthy", "degraded", "cooling_down", "exhausted", "circuit_open", "disabled", "no_key"]
Period = Literal["day", "month"]

#: how much of a caller's unknown name an error quotes back (a 10 KB argument must not become a 10 KB message)
QUOTED_CHARS = 64


def quoted(name: str) -> str:
    """`name` as an error message quotes it: repr'd, cut short when long."""
    if len(name) <= QUOTED_CHARS:
        return repr(name)
    return f"{name[:QUOTED_CHARS]!r}... ({len(name)} characters)"


class QuotaUse(Frozen):
    """One configured (or header-learned) limit of an account and how much of it is used."""

    kind: Literal["requests", "tokens"]
    period: Literal["minute", "day", "month"]
    used: int
    limit: int
    remaining: int
    resets_at: datetime | None = None
    model: str | None = Field(default=None, description="a limit learned from response headers: its model")
    learned_at: datetime | None = Field(default=None, description="when response headers said it (None: configured)")
    forgotten_at: datetime | None = Field(default=None, description="when it lapses unless headers say it again")
    rate_per_hour: float = Field(default=0.0, description="the rate of use since the window began")
    exhausted_at: datetime | None = Field(
        default=None, description="when it runs out at that rate, if before its reset (None: it lasts)"
    )
    unused_at_reset: int = Field(default=0, description="what is left unused at its reset at that rate")
    forecast: str = Field(default="", description="the forecast in words (routing/forecast.py)")


def quota_use(window: QuotaWindow, now: datetime, model: str | None = None, tz: str | None = None) -> QuotaUse:
    """One window's use and forecast; `tz` (the account's zone) places a monthly window's start exactly."""
    learned = window.learned_at
    start = month_window(now, tz).start if tz is not None and window.period == "month" else None
    outlook = forecast(window, now, start)
    return QuotaUse(
        rate_per_hour=outlook.rate_per_hour,
        exhausted_at=outlook.exhausted_at,
        unused_at_reset=outlook.unused_at_reset,
        forecast=describe(outlook, now),
        kind=window.kind,
        period=window.period,
        used=window.limit - window.remaining,
        limit=window.limit,
        remaining=window.remaining,
        resets_at=window.resets_at,
        model=model,
        learned_at=learned,
        forgotten_at=learned + LEARNED_LIMIT_TTL if learned is not None else None,
    )


def learned_limits(state: AccountState | None, models: Sequence[str], now: datetime) -> list[QuotaUse]:
    """The per-minute limits response headers taught for each model, still in force, against the model's minute."""
    if state is None:
        return []
    uses: list[QuotaUse] = []
    for model in models:
        mine = state.model(model)
        if mine.health.learned_at is not None:
            windows = quota_windows(QuotaSpec(), state.usage, mine.health, now, mine.usage.minute)
            uses.extend(quota_use(w, now, model) for w in windows)
    return uses


def selected_providers(app: App, provider: str | None) -> list[ProviderConfig]:
    """The providers asked for; ValueError naming the configured ones when `provider` is unknown."""
    providers = list(app.config.providers.values())
    if provider is None:
        return providers
    chosen = [p for p in providers if p.id == provider]
    if not chosen:
        known = ", ".join(p.id for p in providers) or "none"
        raise ValueError(f"no provider {quoted(provider)} is configured (configured: {known})")
    return chosen


def app_problems(app: App) -> list[str]:
    problem = app.problem
    return [problem] if problem else []
