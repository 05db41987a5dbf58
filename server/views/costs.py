"""`costs_report` (`provider-router costs`, the dashboard's Costs page): where the money went over a period, the
budget burn-down, and what the same requests would have cost on the best-quality model (the savings)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from pydantic import Field

from providers.models import ModelProfile, TaskType
from providers.types import Frozen
from server.views.cache import cache_report
from server.views.period import ReportPeriod, local_day, period_bounds
from server.wiring import App
from server.wiring.identity import visible_member
from storage.rollups import AttemptCell, Cells, Rollups
from storage.team import Member, by_name_job

MILLION = 1_000_000
NANO = 1_000_000_000
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
    #: the team member whose decisions these are (None: everyone's)
    member: str | None = None


def _groups(cells: Iterable[AttemptCell], key: Callable[[AttemptCell], str]) -> list[CostGroup]:
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for c in cells:
        row = sums[key(c)]
        row[0] += c.attempts
        row[1] += c.input_tokens
        row[2] += c.output_tokens
        row[3] += c.cost_nusd
    return [
        CostGroup(group=name, requests=r[0], input_tokens=r[1], output_tokens=r[2], cost_usd=_usd(r[3]))
        for name, r in sorted(sums.items())
    ]


def _usd(nusd: int) -> float:
    return round(nusd / NANO, 9)


_KEYS: dict[str, Callable[[AttemptCell], str]] = {
    "provider": lambda c: c.provider,
    "model": lambda c: f"{c.provider}/{c.model}",
    "task_type": lambda c: c.task_type or "unknown",
    "day": lambda c: c.day,
}


def _profiles(app: App) -> list[tuple[str, ModelProfile]]:
    return [(p.id, m) for p in app.config.providers.values() if p.enabled for m in p.models.values()]


def _best(app: App, task_type: str | None) -> ModelProfile | None:
    task = _TASKS.get(task_type or "", "reasoning")
    profiles = [m for _, m in _profiles(app)]
    if not profiles:
        return None
    # the highest quality for the task; among equals the dearer (the "always the best model" habit)
    return max(profiles, key=lambda m: (m.quality_for(task), m.input_cost_per_1m + m.output_cost_per_1m))


def _priced(profile: ModelProfile, c: AttemptCell) -> float:
    return (c.input_tokens * profile.input_cost_per_1m + c.output_tokens * profile.output_cost_per_1m) / MILLION


def _prompt_cache_saved(app: App, c: AttemptCell) -> float:
    provider = app.config.providers.get(c.provider)
    profile = provider.models.get(c.model) if provider else None
    if profile is None or profile.cache_read_cost_per_1m is None or not c.cache_read_tokens:
        return 0.0
    return c.cache_read_tokens * max(0.0, profile.input_cost_per_1m - profile.cache_read_cost_per_1m) / MILLION


def _savings(app: App, cells: Cells, response_cache_usd: float) -> Savings:
    served = [c for c in cells.attempts if c.outcome == "success"]
    actual = sum(c.cost_nusd for c in cells.attempts if c.served) / NANO
    best = 0.0
    for c in served:
        profile = _best(app, c.task_type)
        best += _priced(profile, c) if profile else c.cost_nusd / NANO
    return Savings(
        requests=sum(d.decisions for d in cells.decisions if d.outcome in ("served", "failover")),
        actual_usd=round(actual, 9),
        best_quality_usd=round(best, 9),
        saved_usd=round(best - actual, 9),
        prompt_cache_saved_usd=round(sum(_prompt_cache_saved(app, c) for c in served), 9),
        response_cache_saved_usd=response_cache_usd,
    )


def _burn_down(app: App, by_day: list[CostGroup], since: datetime, until: datetime, member: Member | None) -> BurnDown:
    """Every day of the period (a day without spend counts 0) with the running total against the caps: `member`'s
    own where they have one, else the global ones (which bound their spend too)."""
    budget = app.config.preferences.budget
    daily = member.budget_daily_usd if member and member.budget_daily_usd is not None else budget.daily_usd
    monthly = member.budget_monthly_usd if member and member.budget_monthly_usd is not None else budget.monthly_usd
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
        daily_budget_usd=daily,
        monthly_budget_usd=monthly,
    )


async def costs_report(app: App, period: ReportPeriod = "month", *, member: str | None = None) -> CostsReport:
    """Spend over `period` by provider, model, task type and day, the burn-down and the savings; only `member`'s
    decisions when given. Complete days come from the daily roll-ups once rolled, the rest from the raw rows."""
    member = visible_member() or member
    since, until = period_bounds(app, period)
    cells = await Rollups(app.store).cells(since, until, app.config.settings.timezone, member=member, latencies=False)
    by_day = _groups(cells.attempts, _KEYS["day"])
    cache = await cache_report(app)
    caps_of = await app.store.read(by_name_job(member)) if member else None
    return CostsReport(
        period=period,
        since=since,
        until=until,
        total_usd=_usd(sum(c.cost_nusd for c in cells.attempts)),
        requests=sum(d.decisions for d in cells.decisions if d.outcome != "refused"),
        by_provider=_groups(cells.attempts, _KEYS["provider"]),
        by_model=_groups(cells.attempts, _KEYS["model"]),
        by_task_type=_groups(cells.attempts, _KEYS["task_type"]),
        by_day=by_day,
        burn_down=_burn_down(app, by_day, since, until, caps_of),
        savings=_savings(app, cells, cache.dollars_saved),
        member=member,
    )
