"""Costs, Performance and the flow picture: the same reports as `provider-router costs|performance|log --flow`."""

from __future__ import annotations

from urllib.parse import urlencode

from server.views import (
    REPORT_PERIODS,
    CostGroup,
    LatencyStats,
    ReportPeriod,
    costs_report,
    flow_report,
    performance_report,
)
from server.views.team import member_names
from server.web.html import attrs, count, esc, ms, section, select, table, usd
from server.web.svg import bars, flow, lines
from server.wiring import App


def period_of(value: str | None, default: ReportPeriod) -> ReportPeriod:
    for period in REPORT_PERIODS:
        if value == period:
            return period
    return default


def period_picker(path: str, chosen: ReportPeriod, member: str | None = None) -> str:
    also = f"&{urlencode({'member': member})}" if member else ""
    links = "".join(
        f"<a{attrs(href=f'{path}?period={p}{also}', aria_current='page' if p == chosen else None)}>{esc(p)}</a>"
        for p in REPORT_PERIODS
    )
    return f'<nav class="periods" aria-label="period">{links}</nav>'


async def member_picker(app: App, path: str, period: ReportPeriod, member: str | None) -> str:
    """A selector of the team's members (`?member=NAME`), when there are members and the viewer may see them all."""
    names = await member_names(app)
    if not names:
        return ""
    period_field = f"<input{attrs(type='hidden', name='period', value=period)}>"
    return (
        f'<form class="filters" method="get" action="{esc(path)}">{period_field}'
        f"<label>member {select('member', names, member, blank='everyone')}</label>"
        '<button type="submit">Show</button></form>'
    )


def _cost_rows(kind: str, groups: list[CostGroup]) -> str:
    rows = [
        [esc(g.group), count(g.requests), count(g.input_tokens), count(g.output_tokens),
         usd(g.cost_usd, f"{kind}.{g.group}")]
        for g in groups
    ]  # fmt: skip
    return bars([(g.group, g.cost_usd) for g in groups], f"spend by {kind}") + table(
        [kind.replace("_", " "), "attempts", "input tokens", "output tokens", "cost"], rows, id_=kind,
        empty="Nothing spent in this period.",
    )  # fmt: skip


async def costs(app: App, period: ReportPeriod, member: str | None = None) -> str:
    report = await costs_report(app, period, member=member)
    s, burn = report.savings, report.burn_down
    cap = burn.monthly_budget_usd if period == "month" else burn.daily_budget_usd if period == "day" else None
    cards = [
        ("Spent", usd(report.total_usd, "total_usd") + f" over {count(report.requests, 'requests')} requests"),
        ("On the best-quality model", usd(s.best_quality_usd, "savings.best_quality_usd")),
        ("Saved by routing", usd(s.saved_usd, "savings.saved_usd")),
        ("Saved by prompt caching", usd(s.prompt_cache_saved_usd, "savings.prompt_cache_saved_usd")),
        ("Saved by the response cache", usd(s.response_cache_saved_usd, "savings.response_cache_saved_usd")),
    ]
    card_html = "".join(f"<div class='card'><h3>{esc(t)}</h3>{v}</div>" for t, v in cards)
    burn_chart = lines(burn.days, {"spent (running total)": burn.cumulative_usd, "per day": burn.spent_usd},
                       "budget burn-down", cap=cap, unit="$")  # fmt: skip
    return (
        period_picker("/costs", period, member)
        + await member_picker(app, "/costs", period, member)
        + f'<div class="cards">{card_html}</div>'
        + section("Budget burn-down" + (f" (cap ${cap:,.2f})" if cap else ""), burn_chart)
        + section("By provider", _cost_rows("by_provider", report.by_provider))
        + section("By model", _cost_rows("by_model", report.by_model))
        + section("By task type", _cost_rows("by_task_type", report.by_task_type))
        + section("By day", _cost_rows("by_day", report.by_day))
    )


def _latency_rows(kind: str, rows: list[LatencyStats]) -> str:
    cells = [
        [esc(r.group), count(r.requests), count(r.failed), ms(r.p50_ms, f"{kind}.{r.group}.p50_ms"),
         ms(r.p95_ms, f"{kind}.{r.group}.p95_ms"), ms(r.p99_ms, f"{kind}.{r.group}.p99_ms"),
         ms(r.ttft_p50_ms, f"{kind}.{r.group}.ttft_p50_ms"), ms(r.ttft_p95_ms, f"{kind}.{r.group}.ttft_p95_ms")]
        for r in rows
    ]  # fmt: skip
    headers = [kind.removeprefix("by_"), "attempts", "failed", "p50", "p95", "p99", "TTFT p50", "TTFT p95"]
    return table(headers, cells, id_=kind, empty="No attempt in this period.")


async def performance(app: App, period: ReportPeriod, member: str | None = None) -> str:
    report = await performance_report(app, period, member=member)
    labels = [b.start.strftime("%m-%d %H:%M") for b in report.over_time]
    providers = sorted({s.group for b in report.over_time for s in b.by_provider})
    models = sorted({s.group for b in report.over_time for s in b.by_model})

    def series(field: str, *, per_model: bool = False) -> dict[str, list[float | None]]:
        return {
            g: [next((getattr(s, field) for s in (b.by_model if per_model else b.by_provider) if s.group == g), None)
                for b in report.over_time]
            for g in (models if per_model else providers)
        }  # fmt: skip

    classes = sorted(report.errors_by_class)
    errors = {c: [float(b.errors_by_class.get(c, 0)) for b in report.over_time] for c in classes}
    f = report.failovers
    by_class = [[f"<code>{esc(k)}</code>", count(v)] for k, v in f.by_error_class.items()]
    failover = (
        f"<p>{count(f.count, 'failovers.count')} failovers ({count(f.served, 'failovers.served')} served) cost "
        f"{ms(f.time_lost_ms, 'failovers.time_lost_ms')} and {usd(f.cost_lost_usd, 'failovers.cost_lost_usd')}"
        " in failed attempts before the answer.</p>" + table(["error class", "attempts"], by_class)
    )
    return (
        period_picker("/performance", period, member)
        + await member_picker(app, "/performance", period, member)
        + section("Latency p50 per provider", lines(labels, series("p50_ms"), "latency p50", unit=" ms"))
        + section("Latency p95 per provider", lines(labels, series("p95_ms"), "latency p95", unit=" ms"))
        + section("Latency p99 per provider", lines(labels, series("p99_ms"), "latency p99", unit=" ms"))
        + section("Latency p95 per model", lines(labels, series("p95_ms", per_model=True), "latency p95 per model",
                                                 unit=" ms"))
        + section("Time to first token p50", lines(labels, series("ttft_p50_ms"), "TTFT p50", unit=" ms")
                  if any(v is not None for s in series("ttft_p50_ms").values() for v in s)
                  else '<p class="muted">No streamed attempt has a time to first token in this period.</p>')
        + section("By provider", _latency_rows("by_provider", report.by_provider))
        + section("By model", _latency_rows("by_model", report.by_model))
        + section("Errors by class over time", lines(labels, errors, "errors by class") if classes
                  else '<p class="muted">No error in this period.</p>')
        + section("Failovers", failover)
    )  # fmt: skip


async def flow_page(app: App, period: ReportPeriod, member: str | None = None) -> str:
    report = await flow_report(app, period, member=member)
    totals: dict[str, int] = {}
    for link in report.routed:
        totals[link.source] = totals.get(link.source, 0) + link.count
        totals[link.target] = totals.get(link.target, 0) + link.count
    for link in report.ended:
        totals[link.target] = totals.get(link.target, 0) + link.count
    picture = flow(
        [report.task_types, report.providers, report.outcomes],
        [(x.source, x.target, x.count) for x in [*report.routed, *report.ended]],
        "task types to providers to outcomes",
        totals=totals,
    )
    rows = [[esc(x.source), esc(x.target), count(x.count, f"{x.source}->{x.target}")]
            for x in [*report.routed, *report.ended]]  # fmt: skip
    return (
        period_picker("/flow", period, member)
        + await member_picker(app, "/flow", period, member)
        + f"<p>{count(report.decisions, 'decisions')} decisions this {esc(period)}: task type → provider → outcome.</p>"
        + (section("Flow", picture) if report.decisions else '<p class="muted">No decision in this period.</p>')
        + section("Counts", table(["from", "to", "decisions"], rows, id_="links"))
    )
