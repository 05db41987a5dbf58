"""`flow_report` (`provider-router log --flow`, the dashboard's flow picture): task types → providers → outcomes
over a period, counted in decisions."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from pydantic import Field

from providers.types import Frozen
from server.views.period import ReportPeriod, period_bounds
from server.wiring import App
from server.wiring.identity import visible_member
from storage.rollups import Rollups


class FlowLink(Frozen):
    source: str
    target: str
    count: int


class FlowReport(Frozen):
    period: ReportPeriod
    since: datetime
    until: datetime
    decisions: int
    task_types: list[str] = Field(default_factory=list)
    providers: list[str] = Field(default_factory=list)
    outcomes: list[str] = Field(default_factory=list)
    #: task type → provider (the provider the decision routed to)
    routed: list[FlowLink] = Field(default_factory=list)
    #: provider → outcome: served, failover (served after another candidate failed), failed, refused (no attempt)
    ended: list[FlowLink] = Field(default_factory=list)
    #: the team member whose decisions these are (None: everyone's)
    member: str | None = None


def _links(pairs: Counter[tuple[str, str]]) -> list[FlowLink]:
    return [FlowLink(source=s, target=t, count=n) for (s, t), n in sorted(pairs.items())]


async def flow_report(app: App, period: ReportPeriod = "day", *, member: str | None = None) -> FlowReport:
    """Decisions of `period` counted from task type to provider and from provider to outcome; only `member`'s when
    given. Complete days come from the daily roll-ups once rolled, the rest from the raw rows."""
    member = visible_member() or member
    since, until = period_bounds(app, period)
    cells = await Rollups(app.store).cells(since, until, app.config.settings.timezone, member=member, latencies=False)
    routed: Counter[tuple[str, str]] = Counter()
    ended: Counter[tuple[str, str]] = Counter()
    for d in cells.decisions:
        provider = d.provider or "none"
        routed[(d.task_type or "unknown", provider)] += d.decisions
        ended[(provider, d.outcome)] += d.decisions
    return FlowReport(
        period=period,
        since=since,
        until=until,
        decisions=sum(d.decisions for d in cells.decisions),
        task_types=sorted({s for s, _ in routed}),
        providers=sorted({t for _, t in routed}),
        outcomes=[o for o in ("served", "failover", "failed", "refused") if any(t == o for _, t in ended)],
        routed=_links(routed),
        ended=_links(ended),
        member=member,
    )
