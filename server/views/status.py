"""`provider_status` (the tool, `provider-router status`): health, quota, spend and latency of each provider."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field

from providers.models import Account, BudgetSpec, ProviderConfig
from providers.types import Frozen
from routing.preferences import BudgetMode
from server.config import lifecycle_notices, substitutions
from server.views.common import (
    HealthState,
    QuotaUse,
    app_problems,
    learned_limits,
    quota_use,
    selected_providers,
)
from server.views.speed import SpeedView, speed_views
from server.wiring import App, latest_active, quota_windows, store_problems
from storage import AccountState, MetricsRow, StateSnapshot, Usages
from storage.latency import Speeds, read_speeds_job

#: how far back provider_status looks for latency percentiles and error counts
STATUS_WINDOW = timedelta(hours=24)


class Block(Frozen):
    """Something keeping an account (or one of its models) out of routing until `until`."""

    model: str | None = Field(description="the model concerned; None: the whole account")
    kind: Literal["cooldown", "exhausted", "circuit_open"]
    until: datetime
    reason: str | None = None


class SpendView(Frozen):
    """USD spent today and this month, and the caps that apply (None: no cap)."""

    day_usd: float = 0.0
    month_usd: float = 0.0
    daily_budget_usd: float | None = None
    monthly_budget_usd: float | None = None


class AccountStatus(Frozen):
    id: str
    enabled: bool
    has_key: bool
    #: where the key lives ("env:OPENAI_API_KEY", "keychain provider-router/google-1") or the fix when it is missing
    key: str
    health: HealthState
    disabled_reason: str | None = None
    cooldown_until: datetime | None = None
    exhausted_until: datetime | None = None
    breaker_open_until: datetime | None = None
    blocks: list[Block] = Field(default_factory=list)
    quota: list[QuotaUse] = Field(default_factory=list)
    spend: SpendView = SpendView()
    #: measured speed per model (routing predicts completion times from it)
    speed: list[SpeedView] = Field(default_factory=list)


class RetiredModelView(Frozen):
    """A configured model that has retired, and what routing does instead (`routed_as` None: it is skipped)."""

    model: str
    routed_as: str | None = None
    note: str


class ProviderStatus(Frozen):
    id: str
    kind: str
    label: str
    enabled: bool
    health: HealthState
    #: when something of this provider can serve again (None: it can now, or nothing known will free it)
    available_again_at: datetime | None = None
    cooldown_until: datetime | None = None
    exhausted_until: datetime | None = None
    models: list[str] = Field(default_factory=list)
    retired_models: list[RetiredModelView] = Field(default_factory=list)
    accounts: list[AccountStatus] = Field(default_factory=list)
    spend: SpendView = SpendView()
    requests_24h: int = 0
    failed_24h: int = 0
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None


class PinView(Frozen):
    """A manual switch in force: global (conversation_id None) or for one conversation."""

    provider: str
    model: str | None = None
    conversation_id: str | None = None
    set_at: datetime | None = None


class StatusReport(Frozen):
    generated_at: datetime
    config: str = Field(description="the providers.json in force")
    ready: bool = Field(description="whether the router can serve requests at all")
    problems: list[str] = Field(default_factory=list, description="what stops routing, each naming the fix")
    warnings: list[str] = Field(default_factory=list)
    retirements: list[str] = Field(
        default_factory=list,
        description="configured models retired now (and what routes instead) or within 30 days, each with the edit",
    )
    budget_mode: BudgetMode = "quality_first"
    spend: SpendView = SpendView()
    manual_switch: PinView | None = None
    conversation_pins: list[PinView] = Field(default_factory=list)
    providers: list[ProviderStatus] = Field(default_factory=list)


def _blocks(state: AccountState | None, models: Sequence[str], now: datetime) -> list[Block]:
    if state is None:
        return []
    blocks: list[Block] = []
    scopes = [(None, state.health), *((m, state.model(m).health) for m in models)]
    for model, health in scopes:
        for kind, until, reason in (
            ("cooldown", health.cooldown_until, health.cooldown_reason),
            ("exhausted", health.exhausted_until, health.exhausted_reason),
            ("circuit_open", health.breaker_open_until, f"{health.consecutive_failures} failures in a row"),
        ):
            if until is not None and until > now:
                blocks.append(Block(model=model, kind=kind, until=until, reason=reason))
    return blocks


def _health(enabled: bool, has_key: bool, blocks: Sequence[Block], models: Sequence[str]) -> HealthState:
    if not enabled:
        return "disabled"
    if not has_key:
        return "no_key"
    whole = [b for b in blocks if b.model is None]
    blocked_models = {b.model for b in blocks if b.model is not None}
    if not whole and not (models and blocked_models >= set(models)):
        return "degraded" if blocks else "healthy"
    kinds = {b.kind for b in (whole or blocks)}
    for kind in ("exhausted", "cooldown", "circuit_open"):
        if kind in kinds:
            return "cooling_down" if kind == "cooldown" else kind
    return "degraded"


def _spend(usage: Usages | None, budget: BudgetSpec) -> SpendView:
    return SpendView(
        day_usd=round(usage.day.cost_usd, 6) if usage else 0.0,
        month_usd=round(usage.month.cost_usd, 6) if usage else 0.0,
        daily_budget_usd=budget.daily_usd,
        monthly_budget_usd=budget.monthly_usd,
    )


async def _account_status(
    app: App, provider: ProviderConfig, account: Account, snapshot: StateSnapshot, speeds: Speeds, now: datetime
) -> AccountStatus:
    state = snapshot.accounts.get(account.id)
    location = await app.credentials.locate(account)
    has_key = account.credential.source == "none" or location.source != "none"
    models = list(provider.models)
    blocks = _blocks(state, models, now)
    disabled_reason = state.disabled_reason if state else None
    enabled = provider.enabled and account.enabled and disabled_reason is None
    quota = (
        [
            quota_use(w, now, tz=account.quota.timezone)
            for w in quota_windows(account.quota, state.usage, state.health, now)
        ]
        + learned_limits(state, models, now)
        if state
        else []
    )
    return AccountStatus(
        id=account.id,
        enabled=enabled,
        has_key=has_key,
        key=location.detail,
        health=_health(enabled, has_key, blocks, models),
        disabled_reason=disabled_reason or (None if account.enabled else "disabled in providers.json"),
        cooldown_until=latest_active(*(b.until for b in blocks if b.kind == "cooldown"), now=now),
        exhausted_until=latest_active(*(b.until for b in blocks if b.kind == "exhausted"), now=now),
        breaker_open_until=latest_active(*(b.until for b in blocks if b.kind == "circuit_open"), now=now),
        blocks=blocks,
        quota=quota,
        spend=_spend(state.usage if state else None, account.budget),
        speed=speed_views(speeds, provider.id, account.id),
    )


def _provider_health(enabled: bool, accounts: Sequence[AccountStatus]) -> HealthState:
    if not enabled:
        return "disabled"
    states = {a.health for a in accounts}
    if states <= {"healthy"}:
        return "healthy"
    if states & {"healthy", "degraded"}:
        return "degraded"
    for health in ("exhausted", "cooling_down", "circuit_open", "no_key", "disabled"):
        if health in states:
            return health
    return "degraded"


def _earliest_unblock(accounts: Sequence[AccountStatus]) -> datetime | None:
    times = (t for a in accounts for t in (a.cooldown_until, a.exhausted_until, a.breaker_open_until) if t)
    return min(times, default=None)


def _sum_spend(accounts: Sequence[AccountStatus], budget: BudgetSpec) -> SpendView:
    return SpendView(
        day_usd=round(sum(a.spend.day_usd for a in accounts), 6),
        month_usd=round(sum(a.spend.month_usd for a in accounts), 6),
        daily_budget_usd=budget.daily_usd,
        monthly_budget_usd=budget.monthly_usd,
    )


async def _provider_status(
    app: App,
    provider: ProviderConfig,
    snapshot: StateSnapshot,
    speeds: Speeds,
    metrics: dict[str, MetricsRow],
    now: datetime,
) -> ProviderStatus:
    accounts = [await _account_status(app, provider, a, snapshot, speeds, now) for a in provider.accounts]
    health = _provider_health(provider.enabled, accounts)
    blocked = health in ("cooling_down", "exhausted", "circuit_open")
    row = metrics.get(provider.id)
    return ProviderStatus(
        id=provider.id,
        kind=provider.kind,
        label=provider.label,
        enabled=provider.enabled,
        health=health,
        available_again_at=_earliest_unblock(accounts) if blocked else None,
        cooldown_until=latest_active(*(a.cooldown_until for a in accounts), now=now),
        exhausted_until=latest_active(*(a.exhausted_until for a in accounts), now=now),
        models=list(provider.models),
        retired_models=[
            RetiredModelView(model=s.model, routed_as=s.routed_as, note=s.note)
            for s in substitutions(provider, snapshot.retired, now.date())
        ],
        accounts=accounts,
        spend=_sum_spend(accounts, provider.budget),
        requests_24h=row.requests if row else 0,
        failed_24h=row.failed if row else 0,
        latency_p50_ms=row.latency_p50_ms if row else None,
        latency_p95_ms=row.latency_p95_ms if row else None,
    )


async def provider_status(app: App, provider: str | None = None, *, now: datetime | None = None) -> StatusReport:
    """Health, quota, spend and latency of every configured provider (or one), with the pins in force.

    Works with a broken or missing configuration: the report then says what to fix in `problems`.

    Raises:
        ValueError: `provider` names no configured provider (the message lists the configured ones).
    """
    app.refresh()
    now = now or app.clock()
    providers = selected_providers(app, provider)
    accounts = [a for p in app.config.providers.values() for a in p.accounts]
    snapshot = await app.ledger.snapshot(accounts, now)
    rows = await app.metrics.compute(now - STATUS_WINDOW, now + timedelta(seconds=1), "provider")
    metrics = {row.group: row for row in rows}
    speeds = await app.store.read(read_speeds_job())
    statuses = [await _provider_status(app, p, snapshot, speeds, metrics, now) for p in providers]
    manual = await app.conversations.global_pin()
    pins = await app.conversations.pinned()
    prefs = app.config.preferences
    retirements = [str(n) for p in providers for n in lifecycle_notices(p, snapshot.retired, now.date())]
    return StatusReport(
        generated_at=now,
        config=app.config.source or str(app.paths.config_file),
        ready=app.problem is None,
        problems=app_problems(app),
        warnings=[w for w in app.config.warnings if w not in retirements],  # each said once, under retirements
        retirements=retirements,
        budget_mode=prefs.budget_mode,
        spend=_spend(snapshot.global_usage, prefs.budget),
        manual_switch=PinView(provider=manual.provider, model=manual.model, set_at=manual.set_at) if manual else None,
        conversation_pins=[
            PinView(provider=p.provider, model=p.model, conversation_id=cid, set_at=p.set_at) for cid, p in pins.items()
        ],
        providers=statuses,
    )


async def router_status(app: App, provider: str | None = None, *, now: datetime | None = None) -> StatusReport:
    """`provider_status`, not ready while router.db takes no writes (each problem naming the fix): what the
    `provider_status` tool and `provider-router status` show.

    Raises:
        ValueError: `provider` names no configured provider (the message lists the configured ones).
    """
    status = await provider_status(app, provider, now=now)
    blocked = await store_problems(app.store)
    if blocked:
        status = status.model_copy(update={"ready": False, "problems": [*status.problems, *blocked]})
    return status


def unavailable_status(problem: str, source: str, now: datetime) -> StatusReport:
    """The status when the router could not even open (e.g. a damaged database): only the problem and its fix."""
    return StatusReport(generated_at=now, config=source, ready=False, problems=[problem])


# --------------------------------------------------------------------------------------------------- quota
