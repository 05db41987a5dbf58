"""`performance_report` (`provider-router performance`, the dashboard's Performance page): latency percentiles and
time to first token per provider and model, over time; errors by class over time; failovers and the time they
cost."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from pydantic import Field

from providers.types import Frozen
from server.views.period import ReportPeriod, period_bounds
from server.wiring import App
from server.wiring.identity import visible_member
from storage.histogram import percentile_of
from storage.rollups import AttemptCell, Cells, Rollups, latencies, ttfts

NANO = 1_000_000_000


class LatencyStats(Frozen):
    """One group's attempts, latency percentiles (ms) and time to first token (ms; None: not measured)."""

    group: str
    requests: int
    failed: int
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    ttft_p50_ms: float | None = None
    ttft_p95_ms: float | None = None


class TimeBucket(Frozen):
    """One stretch of the period (`start`, `bucket_minutes` long) per provider and per model."""

    start: datetime
    by_provider: list[LatencyStats] = Field(default_factory=list)
    by_model: list[LatencyStats] = Field(default_factory=list)
    errors_by_class: dict[str, int] = Field(default_factory=dict)


class Failovers(Frozen):
    """Requests that called more than one candidate, and what the failed attempts before the answer cost."""

    count: int
    served: int
    time_lost_ms: float
    cost_lost_usd: float
    by_error_class: dict[str, int] = Field(default_factory=dict)


class PerformanceReport(Frozen):
    period: ReportPeriod
    since: datetime
    until: datetime
    bucket_minutes: int
    by_provider: list[LatencyStats] = Field(default_factory=list)
    by_model: list[LatencyStats] = Field(default_factory=list)
    errors_by_class: dict[str, int] = Field(default_factory=dict)
    over_time: list[TimeBucket] = Field(default_factory=list)
    failovers: Failovers
    #: the team member whose decisions these are (None: everyone's)
    member: str | None = None
    #: some percentiles come from roll-up histograms (days read from roll-ups): within 1% of the exact ones
    percentiles_approximate: bool = False


_DAY_MINUTES = 24 * 60
_BUCKETS: dict[ReportPeriod, int] = {"day": 60, "week": 6 * 60, "month": _DAY_MINUTES}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _stats(name: str, cells: list[AttemptCell]) -> LatencyStats:
    latency, ttft = latencies(cells), ttfts(cells)
    return LatencyStats(
        group=name,
        requests=sum(c.attempts for c in cells),
        failed=sum(c.attempts for c in cells if c.outcome != "success"),
        p50_ms=_round(percentile_of(latency, 50)),
        p95_ms=_round(percentile_of(latency, 95)),
        p99_ms=_round(percentile_of(latency, 99)),
        ttft_p50_ms=_round(percentile_of(ttft, 50)),
        ttft_p95_ms=_round(percentile_of(ttft, 95)),
    )


def _grouped(cells: Iterable[AttemptCell], key: Callable[[AttemptCell], str]) -> list[LatencyStats]:
    groups: dict[str, list[AttemptCell]] = defaultdict(list)
    for c in cells:
        groups[key(c)].append(c)
    return [_stats(name, groups[name]) for name in sorted(groups)]


def _provider(c: AttemptCell) -> str:
    return c.provider


def _model(c: AttemptCell) -> str:
    return f"{c.provider}/{c.model}"


def _errors(cells: Iterable[AttemptCell]) -> dict[str, int]:
    counted: Counter[str] = Counter()
    for c in cells:
        if c.error_class is not None:
            counted[c.error_class] += c.attempts
    return dict(sorted(counted.items()))


def _over_time(cells: Sequence[AttemptCell], since: datetime, until: datetime, minutes: int) -> list[TimeBucket]:
    """Every bucket of the period up to now, an empty one included (a gap in the lines). A raw cell is an hour that
    starts a whole number of hours after `since` (a local midnight), so it falls in one bucket; a rolled-up day
    falls in the bucket its local midnight is nearest to (a day's bucket in a month; in a week, the first of its
    day's four, for the days whose raw rows retention pruned)."""
    size = timedelta(minutes=minutes)
    buckets: dict[int, list[AttemptCell]] = defaultdict(list)
    for c in cells:
        buckets[round((c.start - since) / size) if c.daily else (c.start - since) // size].append(c)
    last = max([(until - since) // size, *buckets]) if buckets else (until - since) // size
    return [
        TimeBucket(start=since + index * size, by_provider=_grouped(buckets.get(index, []), _provider),
                   by_model=_grouped(buckets.get(index, []), _model), errors_by_class=_errors(buckets.get(index, [])))
        for index in range(last + 1)
    ]  # fmt: skip


def _failovers(cells: Cells) -> Failovers:
    lost = [c for c in cells.attempts if c.multi and c.outcome != "success"]
    return Failovers(
        count=sum(d.decisions for d in cells.decisions if d.multi),
        served=sum(d.decisions for d in cells.decisions if d.multi and d.outcome == "failover"),
        time_lost_ms=round(sum(c.latency_ms_sum for c in lost), 1),
        cost_lost_usd=round(sum(c.cost_nusd for c in lost) / NANO, 9),
        by_error_class=_errors(lost),
    )


async def performance_report(app: App, period: ReportPeriod = "day", *, member: str | None = None) -> PerformanceReport:
    """Latency and time to first token per provider and model over `period`, over time, errors, failovers; only
    `member`'s decisions when given. Complete days come from the daily roll-ups once rolled (their percentiles are
    histogram approximations, within 1%: `percentiles_approximate`), the rest from the raw rows (exact)."""
    member = visible_member() or member
    since, until = period_bounds(app, period)
    minutes = _BUCKETS[period]
    # buckets shorter than a day read the raw rows while retention keeps them (a rolled-up day is one cell)
    cells = await Rollups(app.store).cells(
        since, until, app.config.settings.timezone, member=member, prefer_raw=minutes < _DAY_MINUTES
    )
    return PerformanceReport(
        period=period,
        since=since,
        until=until,
        bucket_minutes=minutes,
        by_provider=_grouped(cells.attempts, _provider),
        by_model=_grouped(cells.attempts, _model),
        errors_by_class=_errors(cells.attempts),
        over_time=_over_time(cells.attempts, since, until, minutes),
        failovers=_failovers(cells),
        member=member,
        percentiles_approximate=any(c.attempts for c in cells.attempts if not c.latencies.exact),
    )
