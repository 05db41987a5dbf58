"""`costs_report` (`provider-router costs`, the dashboard's Costs page): where the money went over a period, the
budget burn-down, and what the same requests would have cost on the best-quality model (the savings)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from pydantic import Field

from providers.models import ModelProfile, TaskType
from providers.types import Frozen
from server.views.cache import cache_report
from server.views.period import ReportPeriod, local_day, period_bounds
from server.wiring import App
from storage.analytics import Analytics, AttemptFact

MILLION = 1_000_000
_TASKS: dict[str, TaskType] = {"coding": "coding", "reasoning": "reasoning", "creative": "creative", "simple": "simple"}


class CostGroup(Frozen):
    """One group's attempts, tokens and spend over the period."""

    group: str
    requests: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


class BurnDown(Frozen):
    """Spend of each day of the period, the running total, and the caps it burns down."""

    days: list[str] = Field(default_factory=list)
    spent_usd: list[float] = Field(default_factory=list)
    cumulative_usd: list[float] = Field(default_factory=list)
    daily_budget_usd: float | None = None
    monthly_budget_usd: float | None = None


class Savings(Frozen):
    """The served requests' cost against the same tokens on the best-quality configured model of each task type."""

    requests: int
    actual_usd: float
    best_quality_usd: float
    saved_usd: float
    #: prompt-cache reads billed below the input price (the provider's cache), in USD
    prompt_cache_saved_usd: float = 0.0
    #: answers served from the router's response cache (since the database was created), in USD
    response_cache_saved_usd: float = 0.0


class CostsReport(Frozen):
    period: ReportPeriod
    since: datetime
    until: datetime
    total_usd: float
    requests: int
    by_provider: list[CostGroup] = Field(default_factory=list)
    by_model: list[CostGroup] = Field(default_factory=list)
    by_task_type: list[CostGroup] = Field(default_factory=list)
    by_day: list[CostGroup] = Field(default_factory=list)
    burn_down: BurnDown
    savings: Savings


def _groups(attempts: Iterable[AttemptFact], key: str, app: App) -> list[CostGroup]:
    sums: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0, 0.0])
    for a in attempts:
        name = _key(a, key, app)
        row = sums[name]
        row[0] += 1
        row[1] += a.input_tokens
        row[2] += a.output_tokens
        row[3] += a.cost_usd
    return [
        CostGroup(group=name, requests=int(r[0]), input_tokens=int(r[1]), output_tokens=int(r[2]),
                  cost_usd=round(r[3], 9))
        for name, r in sorted(sums.items())
    ]  # fmt: skip


def _key(a: AttemptFact, key: str, app: App) -> str:
    if key == "provider":
        return a.provider
    if key == "model":
        return f"{a.provider}/{a.model}"
    if key == "task_type":
        return a.task_type or "unknown"
    return local_day(a.started_at, app)


def _profiles(app: App) -> list[tuple[str, ModelProfile]]:
    return [(p.id, m) for p in app.config.providers.values() if p.enabled for m in p.models.values()]


def _best(app: App, task_type: str | None) -> ModelProfile | None:
    task = _TASKS.get(task_type or "", "reasoning")
    profiles = [m for _, m in _profiles(app)]
    if not profiles:
        return None
    # the highest quality for the task; among equals the dearer (the "always the best model" habit)
    return max(profiles, key=lambda m: (m.quality_for(task), m.input_cost_per_1m + m.output_cost_per_1m))


def _priced(profile: ModelProfile, a: AttemptFact) -> float:
    return (a.input_tokens * profile.input_cost_per_1m + a.output_tokens * profile.output_cost_per_1m) / MILLION


def _prompt_cache_saved(app: App, a: AttemptFact) -> float:
    provider = app.config.providers.get(a.provider)
    profile = provider.models.get(a.model) if provider else None
    if profile is None or profile.cache_read_cost_per_1m is None or not a.cache_read_tokens:
        return 0.0
    return a.cache_read_tokens * max(0.0, profile.input_cost_per_1m - profile.cache_read_cost_per_1m) / MILLION


def _savings(app: App, attempts: list[AttemptFact], response_cache_usd: float) -> Savings:
    served = [a for a in attempts if a.outcome == "success"]
    served_ids = {a.decision_id for a in served}
    actual = sum(a.cost_usd for a in attempts if a.decision_id in served_ids)
    best = 0.0
    for a in served:
        profile = _best(app, a.task_type)
        best += _priced(profile, a) if profile else a.cost_usd
    return Savings(
        requests=len(served_ids),
        actual_usd=round(actual, 9),
        best_quality_usd=round(best, 9),
        saved_usd=round(best - actual, 9),
        prompt_cache_saved_usd=round(sum(_prompt_cache_saved(app, a) for a in served), 9),
        response_cache_saved_usd=response_cache_usd,
    )


def _burn_down(app: App, by_day: list[CostGroup], since: datetime, until: datetime) -> BurnDown:
    """Every day of the period (a day without spend counts 0) with the running total against the caps."""
    budget = app.config.preferences.budget
    spent = {d.group: d.cost_usd for d in by_day}
    days: list[str] = []
    instant = since
    while instant < until:
        day = local_day(instant, app)
        if day not in days:
            days.append(day)
        instant += timedelta(hours=12)
    days += [d for d in spent if d not in days]
    running = 0.0
    cumulative = []
    for day in days:
        running += spent.get(day, 0.0)
        cumulative.append(round(running, 9))
    return BurnDown(
        days=days,
        spent_usd=[round(spent.get(day, 0.0), 9) for day in days],
        cumulative_usd=cumulative,
        daily_budget_usd=budget.daily_usd,
        monthly_budget_usd=budget.monthly_usd,
    )


async def costs_report(app: App, period: ReportPeriod = "month") -> CostsReport:
    """Spend over `period` by provider, model, task type and day, the burn-down and the savings."""
    since, until = period_bounds(app, period)
    attempts = await Analytics(app.store).attempts(since, until)
    by_day = _groups(attempts, "day", app)
    cache = await cache_report(app)
    return CostsReport(
        period=period,
        since=since,
        until=until,
        total_usd=round(sum(a.cost_usd for a in attempts), 9),
        requests=len({a.decision_id for a in attempts}),
        by_provider=_groups(attempts, "provider", app),
        by_model=_groups(attempts, "model", app),
        by_task_type=_groups(attempts, "task_type", app),
        by_day=by_day,
        burn_down=_burn_down(app, by_day, since, until),
        savings=_savings(app, attempts, cache.dollars_saved),
    )
