"""Report verbs over a period: `costs` and `performance` (server.views), as tables or `--json`; and `log --flow`."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import BaseModel
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from server.cli.common import cli_app, console, emit_json, run
from server.views import CostGroup, CostsReport, FlowReport, LatencyStats, PerformanceReport

ReportT = TypeVar("ReportT", bound=BaseModel)


def _usd(value: float) -> str:
    return f"${value:,.4f}"


def _whose(member: str | None) -> str:
    return f" ({member}'s)" if member else ""


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f} ms"


def _cost_table(title: str, groups: list[CostGroup]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in (title.split(" by ")[-1], "requests", "input tok", "output tok", "cost"):
        table.add_column(column, justify="left" if column == title.split(" by ")[-1] else "right")
    for g in groups:
        table.add_row(g.group, str(g.requests), f"{g.input_tokens:,}", f"{g.output_tokens:,}", _usd(g.cost_usd))
    return table


def render_costs(report: CostsReport) -> RenderableType:
    s = report.savings
    budget = report.burn_down
    caps = ", ".join(
        f"{name} cap {_usd(cap)}"
        for name, cap in (("daily", budget.daily_budget_usd), ("monthly", budget.monthly_budget_usd))
        if cap is not None
    )
    head = Text(
        f"Costs this {report.period}{_whose(report.member)}: {_usd(report.total_usd)} over {report.requests} requests"
        + (f" ({caps})" if caps else "")
        + f"\nOn the best-quality model: {_usd(s.best_quality_usd)} · saved {_usd(s.saved_usd)}"
        + f" · prompt cache saved {_usd(s.prompt_cache_saved_usd)} · response cache saved "
        + _usd(s.response_cache_saved_usd)
    )
    tables = [
        _cost_table(f"Spend by {name}", groups)
        for name, groups in (("provider", report.by_provider), ("model", report.by_model),
                             ("task type", report.by_task_type), ("day", report.by_day))
    ]  # fmt: skip
    return Group(head, *tables)


def _latency_table(title: str, rows: list[LatencyStats]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(title.split(" by ")[-1])
    for column in ("attempts", "failed", "p50", "p95", "p99", "TTFT p50", "TTFT p95"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(r.group, str(r.requests), str(r.failed), _ms(r.p50_ms), _ms(r.p95_ms), _ms(r.p99_ms),
                      _ms(r.ttft_p50_ms), _ms(r.ttft_p95_ms))  # fmt: skip
    return table


def render_performance(report: PerformanceReport) -> RenderableType:
    f = report.failovers
    errors = ", ".join(f"{name} {count}" for name, count in report.errors_by_class.items()) or "none"
    head = Text(
        f"Performance this {report.period}{_whose(report.member)}: errors {errors}\n"
        f"Failovers: {f.count} ({f.served} served) · time lost {_ms(f.time_lost_ms)} · cost {_usd(f.cost_lost_usd)}"
    )
    return Group(
        head,
        _latency_table("Latency by provider", report.by_provider),
        _latency_table("Latency by model", report.by_model),
        *([Text("Percentiles of days read from the daily roll-ups are approximations (within 1%).")]
          if report.percentiles_approximate else []),
    )  # fmt: skip


def render_flow(report: FlowReport) -> RenderableType:
    table = Table(
        title=f"Flow this {report.period}{_whose(report.member)}: {report.decisions} decisions", title_justify="left"
    )
    for column in ("from", "to", "decisions"):
        table.add_column(column, justify="right" if column == "decisions" else "left")
    for link in [*report.routed, *report.ended]:
        table.add_row(link.source, link.target, str(link.count))
    return table


def _show_period_report(
    args: argparse.Namespace,
    view: Callable[..., Awaitable[ReportT]],
    render: Callable[[ReportT], RenderableType],
) -> int:
    """Run a period view (`--period`, `--member`) on the App and print it, as a table or `--json`."""

    async def body() -> ReportT:
        async with cli_app() as app:
            return await view(app, args.period, member=args.member)

    report = run(body)
    if args.json:
        emit_json(report)
    else:
        console().print(render(report))
    return 0


def costs(args: argparse.Namespace) -> int:
    """Spend over --period by provider, model, task type and day, the burn-down and the savings."""
    from server.views import costs_report

    return _show_period_report(args, costs_report, render_costs)


def performance(args: argparse.Namespace) -> int:
    """Latency percentiles and time to first token per provider and model, errors by class and failovers."""
    from server.views import performance_report

    return _show_period_report(args, performance_report, render_performance)


def flow(args: argparse.Namespace) -> int:
    """`log --flow`: decisions of --period from task type to provider to outcome."""
    from server.views import flow_report

    return _show_period_report(args, flow_report, render_flow)
