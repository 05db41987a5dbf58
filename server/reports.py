"""Read-only views of the router's state, shared by the MCP tools/resources and the CLI verbs.

Every function is a plain coroutine over an open `App` returning a frozen pydantic model (JSON-ready, no secret:
keys appear only as where they live, prompts only when the user enabled `settings.logPrompts`).

    provider_status(app, provider)          -> StatusReport      (`provider_status` tool, `provider-router status`)
    unavailable_status(problem, source)     -> StatusReport      (the same shape when no App could be opened)
    quota_report(app, period, provider)     -> QuotaReport       (`quota_report` tool, `provider-router quota`)
    metrics_report(app, since, until)       -> MetricsReport     (router://metrics)
    decision_log(app, limit, ...)           -> DecisionLogView   (router://decisions, `provider-router log`)
    decision_detail(app, decision_id)       -> DecisionDetail | None  (router://decisions/{id})
    providers_view(app)                     -> ProvidersReport   (router://providers, `provider-router list`)
    preferences_view(preferences)           -> PreferencesView   (`set_preference`, `provider-router prefer`)

The metrics and decision-log views live in server/reports_history.py and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field

from providers.models import Account, BudgetSpec, ModelProfile, ProviderConfig, QuotaSpec
from providers.types import Frozen
from routing.preferences import BudgetMode, Preferences
from routing.types import QuotaWindow
from server.app import App
from server.config import credential_label
from server.lifecycle import lifecycle_notices, substitutions
from server.reports_history import (
    AttemptView,
    DecisionDetail,
    DecisionLogView,
    DecisionSummary,
    MetricsReport,
    MetricsView,
    SwitchView,
    decision_detail,
    decision_log,
    metrics_report,
)
from server.store_ports import latest_active, quota_windows
from storage import AccountState, MetricsRow, StateSnapshot, Usages, WindowUsage
from storage.accounts import LEARNED_LIMIT_TTL
from storage.windows import day_window, month_window

__all__ = [
    "AccountQuota",
    "AccountStatus",
    "AttemptView",
    "Block",
    "DecisionDetail",
    "DecisionLogView",
    "DecisionSummary",
    "HealthState",
    "MetricsReport",
    "MetricsView",
    "ModelView",
    "PinView",
    "PreferencesView",
    "ProviderEntry",
    "ProviderQuota",
    "ProviderStatus",
    "ProvidersReport",
    "QuotaReport",
    "QuotaUse",
    "SpendView",
    "StatusReport",
    "SwitchView",
    "decision_detail",
    "decision_log",
    "metrics_report",
    "preferences_view",
    "provider_status",
    "providers_view",
    "quota_report",
    "unavailable_status",
]

#: healthy: serving; degraded: some accounts or models blocked; the others: nothing of it can serve right now
HealthState = Literal["healthy", "degraded", "cooling_down", "exhausted", "circuit_open", "disabled", "no_key"]
Period = Literal["day", "month"]

#: how far back provider_status looks for latency percentiles and error counts
STATUS_WINDOW = timedelta(hours=24)
#: a rate measured over less than this is too noisy to forecast from
MIN_FORECAST_ELAPSED = timedelta(minutes=5)
#: how much of a caller's unknown name an error quotes back (a 10 KB argument must not become a 10 KB message)
QUOTED_CHARS = 64


def quoted(name: str) -> str:
    """`name` as an error message quotes it: repr'd, cut short when long."""
    if len(name) <= QUOTED_CHARS:
        return repr(name)
    return f"{name[:QUOTED_CHARS]!r}... ({len(name)} characters)"


# --------------------------------------------------------------------------------------------------- status


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
    app: App, provider: ProviderConfig, account: Account, snapshot: StateSnapshot, now: datetime
) -> AccountStatus:
    state = snapshot.accounts.get(account.id)
    location = await app.credentials.locate(account)
    has_key = account.credential.source == "none" or location.source != "none"
    models = list(provider.models)
    blocks = _blocks(state, models, now)
    disabled_reason = state.disabled_reason if state else None
    enabled = provider.enabled and account.enabled and disabled_reason is None
    quota = (
        [_use(w) for w in quota_windows(account.quota, state.usage, state.health, now)] + _learned(state, models, now)
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
    )


def _use(window: QuotaWindow, model: str | None = None) -> QuotaUse:
    learned = window.learned_at
    return QuotaUse(
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


def _learned(state: AccountState | None, models: Sequence[str], now: datetime) -> list[QuotaUse]:
    """The per-minute limits response headers taught for each model, still in force, against the model's minute."""
    if state is None:
        return []
    uses: list[QuotaUse] = []
    for model in models:
        mine = state.model(model)
        if mine.health.learned_at is not None:
            windows = quota_windows(QuotaSpec(), state.usage, mine.health, now, mine.usage.minute)
            uses.extend(_use(w, model) for w in windows)
    return uses


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
    app: App, provider: ProviderConfig, snapshot: StateSnapshot, metrics: dict[str, MetricsRow], now: datetime
) -> ProviderStatus:
    accounts = [await _account_status(app, provider, a, snapshot, now) for a in provider.accounts]
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


def _selected(app: App, provider: str | None) -> list[ProviderConfig]:
    """The providers asked for; ValueError naming the configured ones when `provider` is unknown."""
    providers = list(app.config.providers.values())
    if provider is None:
        return providers
    chosen = [p for p in providers if p.id == provider]
    if not chosen:
        known = ", ".join(p.id for p in providers) or "none"
        raise ValueError(f"no provider {quoted(provider)} is configured (configured: {known})")
    return chosen


def _problems(app: App) -> list[str]:
    problem = app.problem
    return [problem] if problem else []


async def provider_status(app: App, provider: str | None = None, *, now: datetime | None = None) -> StatusReport:
    """Health, quota, spend and latency of every configured provider (or one), with the pins in force.

    Works with a broken or missing configuration: the report then says what to fix in `problems`.

    Raises:
        ValueError: `provider` names no configured provider (the message lists the configured ones).
    """
    app.refresh()
    now = now or app.clock()
    providers = _selected(app, provider)
    accounts = [a for p in app.config.providers.values() for a in p.accounts]
    snapshot = await app.ledger.snapshot(accounts, now)
    rows = await app.metrics.compute(now - STATUS_WINDOW, now + timedelta(seconds=1), "provider")
    metrics = {row.group: row for row in rows}
    statuses = [await _provider_status(app, p, snapshot, metrics, now) for p in providers]
    manual = await app.conversations.global_pin()
    pins = await app.conversations.pinned()
    prefs = app.config.preferences
    retirements = [str(n) for p in providers for n in lifecycle_notices(p, snapshot.retired, now.date())]
    return StatusReport(
        generated_at=now,
        config=app.config.source or str(app.paths.config_file),
        ready=app.problem is None,
        problems=_problems(app),
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


def unavailable_status(problem: str, source: str, now: datetime) -> StatusReport:
    """The status when the router could not even open (e.g. a damaged database): only the problem and its fix."""
    return StatusReport(generated_at=now, config=source, ready=False, problems=[problem])


# --------------------------------------------------------------------------------------------------- quota


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
    """When the first limit runs out at the average rate since `start`, if before `resets_at`."""
    elapsed = max(now - start, MIN_FORECAST_ELAPSED)
    first: tuple[datetime, str] | None = None
    for name, limit in limits.items():
        if limit is None:
            continue
        if used[name] >= limit:
            return now, name, f"{name} exhausted; resets at {resets_at.isoformat(timespec='minutes')}"
        if used[name] <= 0:
            continue
        at = now + elapsed * ((limit - used[name]) / used[name])
        if at < resets_at and (first is None or at < first[0]):
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
        learned_limits=_learned(state, list(provider.models), now),
    )


async def quota_report(
    app: App, period: Period = "day", provider: str | None = None, *, now: datetime | None = None
) -> QuotaReport:
    """Requests, tokens and spend of the current day or month per provider and account, with a forecast.

    Raises:
        ValueError: `provider` names no configured provider (the message lists the configured ones).
    """
    app.refresh()
    now = now or app.clock()
    providers = _selected(app, provider)
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
        problems=_problems(app),
        spend_usd=round(global_usage.cost_usd, 6),
        budget_usd=budget.daily_usd if period == "day" else budget.monthly_usd,
        providers=lines,
    )


# --------------------------------------------------------------------------------------------------- catalogue


class ModelView(Frozen):
    id: str
    context_window: int
    max_output_tokens: int
    input_cost_per_1m: float
    output_cost_per_1m: float
    free_tier: bool
    price_known: bool = Field(default=True, description="False: no price given; the costs shown are a stand-in")
    quality: dict[str, int] = Field(default_factory=dict)
    speed: int
    capabilities: list[str] = Field(default_factory=list)
    retired_on: str | None = None
    #: retired: the model that routes in its place (None: none does) and the note saying so
    routed_as: str | None = None
    retirement: str | None = None


class ProviderEntry(Frozen):
    id: str
    kind: str
    label: str
    enabled: bool
    load_balancing: str
    accounts: list[str] = Field(default_factory=list)
    #: each account's key reference ("env:VAR", "keyring:id"), never a key
    credentials: dict[str, str] = Field(default_factory=dict)
    health: HealthState
    available_again_at: datetime | None = None
    models: list[ModelView] = Field(default_factory=list)


class ProvidersReport(Frozen):
    generated_at: datetime
    problems: list[str] = Field(default_factory=list)
    providers: list[ProviderEntry] = Field(default_factory=list)


def _model_view(model: ModelProfile, retired: RetiredModelView | None = None) -> ModelView:
    return ModelView(
        routed_as=retired.routed_as if retired else None,
        retirement=retired.note if retired else None,
        id=model.id,
        context_window=model.context_window,
        max_output_tokens=model.max_output_tokens,
        input_cost_per_1m=model.input_cost_per_1m,
        output_cost_per_1m=model.output_cost_per_1m,
        free_tier=model.free_tier,
        price_known=model.price_known,
        quality=dict(model.quality),
        speed=model.speed,
        capabilities=sorted(model.capabilities),
        retired_on=model.retired_on.isoformat() if model.retired_on else None,
    )


def _retired_view(status: ProviderStatus, model: str) -> RetiredModelView | None:
    return next((r for r in status.retired_models if r.model == model), None)


async def providers_view(app: App, *, now: datetime | None = None) -> ProvidersReport:
    """The configured providers with their models (the catalogue as merged with providers.json) and health."""
    status = await provider_status(app, now=now)
    health = {p.id: p for p in status.providers}
    return ProvidersReport(
        generated_at=status.generated_at,
        problems=status.problems,
        providers=[
            ProviderEntry(
                id=p.id,
                kind=p.kind,
                label=p.label,
                enabled=p.enabled,
                load_balancing=p.load_balancing,
                accounts=[a.id for a in p.accounts],
                credentials={a.id: credential_label(a.credential) for a in p.accounts},
                health=health[p.id].health,
                available_again_at=health[p.id].available_again_at,
                models=[_model_view(m, _retired_view(health[p.id], m.id)) for m in p.models.values()],
            )
            for p in app.config.providers.values()
        ],
    )


# --------------------------------------------------------------------------------------------------- preferences


class PreferencesView(Frozen):
    """The preferences in force. Every list is an ORDER of provider ids, never an allow-list."""

    default: str | None = None
    task_preferences: dict[str, list[str]] = Field(default_factory=dict)
    quality_preferences: dict[str, list[str]] = Field(default_factory=dict)
    budget_mode: BudgetMode
    auto_switch: bool
    switch_on_limit: bool
    preserve_context: bool
    daily_budget_usd: float | None = None
    monthly_budget_usd: float | None = None


def preferences_view(preferences: Preferences) -> PreferencesView:
    """The routing preferences as plain lists."""
    return PreferencesView(
        default=preferences.default,
        task_preferences={k: list(v) for k, v in preferences.task_preferences.items()},
        quality_preferences={k: list(v) for k, v in preferences.quality_preferences.items()},
        budget_mode=preferences.budget_mode,
        auto_switch=preferences.auto_switch,
        switch_on_limit=preferences.switch_on_limit,
        preserve_context=preferences.preserve_context,
        daily_budget_usd=preferences.budget.daily_usd,
        monthly_budget_usd=preferences.budget.monthly_usd,
    )
