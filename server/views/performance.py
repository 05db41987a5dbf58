"""`performance_report` (`provider-router performance`, the dashboard's Performance page): latency percentiles and
time to first token per provider and model, over time; errors by class over time; failovers and the time they
cost."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from pydantic import Field

from providers.types import Frozen
from server.views.period import ReportPeriod, period_bounds
from server.wiring import App
from storage.analytics import Analytics, AttemptFact
from storage.metrics import percentile


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


_BUCKETS: dict[ReportPeriod, int] = {"day": 60, "week": 6 * 60, "month": 24 * 60}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _stats(name: str, attempts: list[AttemptFact]) -> LatencyStats:
    latencies = sorted(a.latency_ms for a in attempts)
    ttfts = sorted(a.ttft_ms for a in attempts if a.ttft_ms is not None)
    return LatencyStats(
        group=name,
        requests=len(attempts),
        failed=sum(a.outcome != "success" for a in attempts),
        p50_ms=_round(percentile(latencies, 50)),
        p95_ms=_round(percentile(latencies, 95)),
        p99_ms=_round(percentile(latencies, 99)),
        ttft_p50_ms=_round(percentile(ttfts, 50)),
        ttft_p95_ms=_round(percentile(ttfts, 95)),
    )


def _grouped(attempts: Iterable[AttemptFact], key: Callable[[AttemptFact], str]) -> list[LatencyStats]:
    groups: dict[str, list[AttemptFact]] = defaultdict(list)
    for a in attempts:
        groups[key(a)].append(a)
    return [_stats(name, groups[name]) for name in sorted(groups)]


def _model(a: AttemptFact) -> str:
    return f"{a.provider}/{a.model}"


def _errors(attempts: Iterable[AttemptFact]) -> dict[str, int]:
    return dict(sorted(Counter(a.error_class for a in attempts if a.error_class is not None).items()))


def _over_time(attempts: list[AttemptFact], since: datetime, until: datetime, minutes: int) -> list[TimeBucket]:
    """Every bucket of the period up to now, an empty one included (a gap in the lines)."""
    size = timedelta(minutes=minutes)
    buckets: dict[int, list[AttemptFact]] = defaultdict(list)
    for a in attempts:
        buckets[(a.started_at - since) // size].append(a)
    last = max([(until - since) // size, *buckets]) if buckets else (until - since) // size
    return [
        TimeBucket(start=since + index * size, by_provider=_grouped(buckets.get(index, []), lambda a: a.provider),
                   by_model=_grouped(buckets.get(index, []), _model), errors_by_class=_errors(buckets.get(index, [])))
        for index in range(last + 1)
    ]  # fmt: skip


def _failovers(attempts: list[AttemptFact]) -> Failovers:
    by_decision: dict[int, list[AttemptFact]] = defaultdict(list)
    for a in attempts:
        by_decision[a.decision_id].append(a)
    multi = [group for group in by_decision.values() if len(group) > 1]
    lost = [a for group in multi for a in group if a.outcome != "success"]
    return Failovers(
        count=len(multi),
        served=sum(any(a.outcome == "success" for a in group) for group in multi),
        time_lost_ms=round(sum(a.latency_ms for a in lost), 1),
        cost_lost_usd=round(sum(a.cost_usd for a in lost), 9),
        by_error_class=_errors(lost),
    )


async def performance_report(app: App, period: ReportPeriod = "day") -> PerformanceReport:
    """Latency and time to first token per provider and model over `period`, over time, errors, failovers."""
    since, until = period_bounds(app, period)
    attempts = await Analytics(app.store).attempts(since, until)
    minutes = _BUCKETS[period]
    return PerformanceReport(
        period=period,
        since=since,
        until=until,
        bucket_minutes=minutes,
        by_provider=_grouped(attempts, lambda a: a.provider),
        by_model=_grouped(attempts, _model),
        errors_by_class=_errors(attempts),
        over_time=_over_time(attempts, since, until, minutes),
        failovers=_failovers(attempts),
    )
