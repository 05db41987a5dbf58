"""`metrics_report` (router://metrics): requests, tokens, cost and latency over the attempts."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import Field

from providers.types import Frozen
from server.views.cache import CacheReport, cache_report
from server.wiring import App
from server.wiring.identity import visible_member
from storage import MetricsRow


class MetricsView(Frozen):
    """One group's requests, tokens, cost, latency (ms) and errors by class."""

    group: str
    requests: int
    success: int
    failed: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency_avg_ms: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    errors_by_class: dict[str, int] = Field(default_factory=dict)


class MetricsReport(Frozen):
    since: datetime
    until: datetime
    by_provider: list[MetricsView] = Field(default_factory=list)
    by_account: list[MetricsView] = Field(default_factory=list)
    by_model: list[MetricsView] = Field(default_factory=list)
    #: the response cache: what it holds, and its hits and savings since the database was created
    cache: CacheReport | None = None


def _metrics_view(row: MetricsRow) -> MetricsView:
    return MetricsView(
        group=row.group,
        requests=row.requests,
        success=row.success,
        failed=row.failed,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        cost_usd=round(row.cost_usd, 9),
        latency_avg_ms=row.latency_avg_ms,
        latency_p50_ms=row.latency_p50_ms,
        latency_p95_ms=row.latency_p95_ms,
        latency_p99_ms=row.latency_p99_ms,
        errors_by_class=dict(row.errors_by_class),
    )


async def metrics_report(
    app: App, since: datetime | None = None, until: datetime | None = None, *, member: str | None = None
) -> MetricsReport:
    """Attempts in [since, until) grouped per provider, account and model (default: the retention period); only
    `member`'s when given, and only the viewer's own when a team member who is not an admin asks."""
    member = visible_member() or member
    now = app.clock()
    until = until or now + timedelta(seconds=1)
    since = since or now - timedelta(days=app.config.settings.retention_days)
    groups = {
        name: [_metrics_view(row) for row in await app.metrics.compute(since, until, name, member=member)]
        for name in ("provider", "account", "model")
    }
    return MetricsReport(
        since=since, until=until, by_provider=groups["provider"], by_account=groups["account"],
        by_model=groups["model"], cache=await cache_report(app),
    )  # fmt: skip
