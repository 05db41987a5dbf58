"""The period reports behind `costs`, `performance`, `log --flow`, `status`'s activity and the dashboard, over the
seed's providers on the simulator: each number traced back to the attempts that made it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest

from providers.types import Message
from routing.router import RouteRequest
from server import views
from server.wiring import App
from tests.clock import FixedClock
from tests.harness import seed_app

pytestmark = pytest.mark.anyio


def ask(text: str, task_type: str) -> RouteRequest:
    return RouteRequest(messages=(Message(role="user", content=text),), task_type=task_type)  # type: ignore[arg-type]


@asynccontextmanager
async def day_of_work(tmp_path: Path, clock: FixedClock | None = None) -> AsyncIterator[App]:
    """Four served requests, one failover (OpenAI rate-limited, Anthropic answers) and a dry run."""
    async with seed_app(tmp_path, clock=clock, budgetUsd={"daily": 5, "monthly": 50}) as (app, sim):
        with anyio.fail_after(20):
            for text, task in (("Summarize this", "simple"), ("Fix this function", "coding"),
                               ("Write a poem", "creative"), ("Prove this lemma", "reasoning")):  # fmt: skip
                await app.router.route(ask(text, task))
            sim.script("openai", ["rate_limited"])
            await app.router.route(ask("Refactor this class", "coding"))
            await app.router.preview(ask("Plan the change", "coding"))
        yield app


async def test_costs_add_up_by_every_grouping_and_burn_down_to_the_total(tmp_path: Path) -> None:
    async with day_of_work(tmp_path) as app:
        costs = await views.costs_report(app, "month")
        metrics = await views.metrics_report(app)
    assert costs.requests == 5
    assert costs.total_usd == pytest.approx(sum(m.cost_usd for m in metrics.by_provider)) and costs.total_usd > 0
    for groups in (costs.by_provider, costs.by_model, costs.by_task_type, costs.by_day):
        assert sum(g.cost_usd for g in groups) == pytest.approx(costs.total_usd)
    assert {g.group for g in costs.by_task_type} == {"simple", "coding", "creative", "reasoning"}
    assert costs.burn_down.cumulative_usd[-1] == pytest.approx(costs.total_usd)
    assert costs.burn_down.days[0] == "2026-11-01" and costs.burn_down.days[-1] == "2026-11-28"
    assert (costs.burn_down.daily_budget_usd, costs.burn_down.monthly_budget_usd) == (5, 50)


async def test_savings_price_the_served_tokens_on_the_best_quality_model_of_each_task(tmp_path: Path) -> None:
    async with day_of_work(tmp_path) as app:
        costs = await views.costs_report(app, "day")
    s = costs.savings
    assert s.requests == 5
    assert s.actual_usd == pytest.approx(costs.total_usd)
    # the cheap Google answer to the simple task costs less than the best-quality model would have
    assert s.best_quality_usd > s.actual_usd
    assert s.saved_usd == pytest.approx(s.best_quality_usd - s.actual_usd)


async def test_performance_gives_percentiles_errors_and_the_time_a_failover_lost(tmp_path: Path) -> None:
    async with day_of_work(tmp_path) as app:
        report = await views.performance_report(app, "day")
        metrics = await views.metrics_report(app)
    assert [r.group for r in report.by_provider] == [m.group for m in metrics.by_provider]
    for row, m in zip(report.by_provider, metrics.by_provider, strict=True):
        assert (row.requests, row.failed) == (m.requests, m.failed)
        assert row.p95_ms == pytest.approx(m.latency_p95_ms, abs=0.05)
    assert report.errors_by_class == {"rate_limited": 1}
    f = report.failovers
    assert (f.count, f.served) == (1, 1)
    openai = next(r for r in report.by_provider if r.group == "openai")
    assert f.time_lost_ms > 0 and f.by_error_class == {"rate_limited": 1}
    assert openai.failed == 1
    assert sum(sum(s.requests for s in b.by_provider) for b in report.over_time) == 6
    assert report.by_provider[0].ttft_p50_ms is not None  # streamed calls measure their first token


async def test_time_to_first_token_is_reported_where_an_attempt_has_it(tmp_path: Path) -> None:
    async with day_of_work(tmp_path) as app:
        await app.store.execute("UPDATE attempts SET ttft_ms = 120 WHERE provider = 'anthropic'")
        report = await views.performance_report(app, "day")
    anthropic = next(r for r in report.by_provider if r.group == "anthropic")
    assert anthropic.ttft_p50_ms == 120 and anthropic.ttft_p95_ms == 120


async def test_the_flow_counts_decisions_from_task_type_to_provider_to_outcome(tmp_path: Path) -> None:
    async with day_of_work(tmp_path) as app:
        flow = await views.flow_report(app, "week")
    assert flow.decisions == 5  # the dry run is not a request
    routed = {(x.source, x.target): x.count for x in flow.routed}
    ended = {(x.source, x.target): x.count for x in flow.ended}
    assert routed[("simple", "google")] == 1 and routed[("coding", "anthropic")] == 1
    assert ended[("anthropic", "failover")] == 1
    assert sum(ended.values()) == sum(routed.values()) == 5
    assert flow.outcomes == ["served", "failover"]


async def test_activity_counts_the_requests_of_each_minute_of_the_last_hour(tmp_path: Path) -> None:
    clock = FixedClock()
    async with day_of_work(tmp_path, clock) as app:
        clock.advance(minutes=2)
        activity = await views.activity_view(app)
    assert len(activity.per_minute) == 60
    assert activity.per_minute[-3] == 5 and activity.last_minute == 0 and activity.last_hour == 5
    assert activity.last_decision_id == 6


async def test_the_decision_log_filters_by_task_provider_reason_and_outcome(tmp_path: Path) -> None:
    async with day_of_work(tmp_path) as app:
        coding = await views.decision_log(app, 50, task_type="coding")
        failovers = await views.decision_log(app, 50, outcome="failover")
        google = await views.decision_log(app, 50, provider="google", reason="preference")
        refused = await views.decision_log(app, 50, outcome="refused")
        with pytest.raises(ValueError, match="served, failover, failed, refused"):
            await views.decision_log(app, 50, outcome="nope")
    assert {d.task_type for d in coding.decisions} == {"coding"} and len(coding.decisions) == 3
    assert [d.failover for d in failovers.decisions] == [True]
    assert [d.provider for d in google.decisions] == ["google"]
    assert [d.dry_run for d in refused.decisions] == [True]
