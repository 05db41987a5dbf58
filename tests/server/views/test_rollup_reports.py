"""The period reports read complete days from the daily roll-ups: the same numbers as from the raw rows (the
percentiles within 1%), still there once retention pruned the raw rows; and a member's reports are theirs only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from providers.types import Message
from routing.router import RouteRequest
from server import views
from server.actions.team import add_member
from server.web.pages import reports, routing
from server.wiring import App
from server.wiring.identity import acting_as
from storage.retention import prune_decisions
from storage.rollups import Rollups
from storage.team import Member, attribute_decision_job
from storage.windows import day_window
from tests.clock import FIXED_NOW, FixedClock
from tests.harness import seed_app

pytestmark = pytest.mark.anyio

PERCENTILES = {"p50_ms", "p95_ms", "p99_ms", "ttft_p50_ms", "ttft_p95_ms"}


def ask(text: str, task_type: str) -> RouteRequest:
    return RouteRequest(messages=(Message(role="user", content=text),), task_type=task_type)  # type: ignore[arg-type]


@asynccontextmanager
async def five_days(tmp_path: Path) -> AsyncIterator[App]:
    """Five requests a day (one a failover) on each of the last five days, every other decision Ada's."""
    clock = FixedClock()
    async with seed_app(tmp_path, clock=clock) as (app, sim):
        with anyio.fail_after(60):
            for days_ago in (4, 3, 2, 1, 0):
                clock.now = FIXED_NOW - timedelta(days=days_ago, hours=6)
                for text, task in (("Summarize this", "simple"), ("Fix this function", "coding"),
                                   ("Write a poem", "creative"), ("Prove this lemma", "reasoning")):  # fmt: skip
                    await app.router.route(ask(text, task))
                sim.script("openai", ["rate_limited"])
                await app.router.route(ask("Refactor this class", "coding"))
            await app.router.preview(ask("Plan the change", "coding"))
        clock.now = FIXED_NOW
        await add_member(app, "ada")
        for decision_id in range(1, 27, 2):
            await app.store.write(attribute_decision_job(decision_id, "ada"))
        yield app


async def all_reports(app: App, member: str | None = None) -> dict[str, Any]:
    return {
        "costs": (await views.costs_report(app, "month", member=member)).model_dump(),
        "performance": (await views.performance_report(app, "month", member=member)).model_dump(),
        "performance_week": (await views.performance_report(app, "week", member=member)).model_dump(),
        "flow": (await views.flow_report(app, "month", member=member)).model_dump(),
    }


def agree(rolled: Any, raw: Any, path: str = "") -> None:
    """`rolled` equals `raw`, but for percentiles (within 1% and the 0.1 ms rounding) and the approximation flag."""
    if isinstance(raw, dict):
        assert set(rolled) == set(raw), path
        for key in raw:
            if key in PERCENTILES and raw[key] is not None:
                assert abs(rolled[key] - raw[key]) <= 0.01 * (raw[key] + 1) + 0.1, f"{path}.{key}"
            elif key != "percentiles_approximate":
                agree(rolled[key], raw[key], f"{path}.{key}")
    elif isinstance(raw, list):
        assert len(rolled) == len(raw), path
        for index, (a, b) in enumerate(zip(rolled, raw, strict=True)):
            agree(a, b, f"{path}[{index}]")
    else:
        assert rolled == raw, path


async def test_reports_from_roll_ups_agree_with_the_raw_rows_and_outlive_them(tmp_path: Path) -> None:
    async with five_days(tmp_path) as app:
        raw = await all_reports(app)
        raw_ada = await all_reports(app, "ada")
        rolled_days = await Rollups(app.store).roll_up(app.clock(), app.config.settings.timezone)
        rolled = await all_reports(app)
        rolled_ada = await all_reports(app, "ada")
        today = day_window(app.clock(), app.config.settings.timezone).start
        pruned = await prune_decisions(app.store, today, batch_size=3)
        after_prune = await all_reports(app)
    assert rolled_days == ["2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27"]
    assert raw["costs"]["requests"] == 25 and raw["flow"]["decisions"] == 25
    assert raw["performance"]["failovers"]["count"] == 5
    assert not raw["performance"]["percentiles_approximate"]
    assert rolled["performance"]["percentiles_approximate"]
    agree(rolled, raw)
    agree(rolled_ada, raw_ada)
    assert pruned.decisions == 20 and pruned.transactions >= 7  # four days of five decisions
    # a week's 6-hour buckets read the raw rows while they last; a pruned day is one cell, in its first bucket
    week, week_before = after_prune.pop("performance_week"), rolled.pop("performance_week")
    assert sum(sum(s["requests"] for s in b["by_provider"]) for b in week["over_time"]) == 30
    week.pop("over_time"), week_before.pop("over_time")
    agree(week, week_before)
    agree(after_prune, rolled)
    assert after_prune["costs"]["by_day"] == raw["costs"]["by_day"]
    assert rolled["costs"] == raw["costs"]


async def test_a_members_reports_count_only_their_decisions(tmp_path: Path) -> None:
    async with five_days(tmp_path) as app:
        everyone = await all_reports(app)
        ada = await all_reports(app, "ada")
        nobody = await all_reports(app, "nobody")
    assert ada["flow"]["decisions"] == 13 and ada["flow"]["member"] == "ada"
    assert 0 < ada["costs"]["total_usd"] < everyone["costs"]["total_usd"]
    assert ada["costs"]["requests"] == 13
    assert nobody["costs"]["requests"] == 0 and nobody["flow"]["decisions"] == 0


async def test_a_member_who_is_not_an_admin_sees_only_their_own_reports(tmp_path: Path) -> None:
    async with five_days(tmp_path) as app:
        ada = await all_reports(app, "ada")
        with acting_as(Member("ada", admin=False)):
            own = await all_reports(app)
            asked_for_others = await all_reports(app, "bob")
            page = await reports.costs(app, "month")
        with acting_as(Member("root", admin=True)):
            everyone = await all_reports(app)
    assert own == ada and asked_for_others == ada
    assert everyone["flow"]["decisions"] == 25
    assert 'name="member"' not in page  # no selector for a member


async def test_the_dashboard_pages_take_a_member_and_offer_the_teams_members(tmp_path: Path) -> None:
    async with five_days(tmp_path) as app:
        costs = await reports.costs(app, "month", "ada")
        flow = await reports.flow_page(app, "month", "ada")
        performance = await reports.performance(app, "week", "ada")
        stream = await routing.stream(app, _query(member="ada"))
        ada = await views.costs_report(app, "month", member="ada")
    assert '<option value="ada" selected>ada</option>' in costs
    assert "period=week&amp;member=ada" in costs or "period=week&member=ada" in costs
    assert ">13</" in flow  # Ada's decisions
    assert 'name="member"' in performance
    assert f"{ada.requests}" in costs
    assert stream.count("/routing/") >= 13 and "#2<" not in stream  # decision 2 is not Ada's


def _query(**values: str) -> Any:
    from starlette.datastructures import QueryParams

    return QueryParams(values)


async def test_a_members_burn_down_is_drawn_against_their_own_caps_where_they_have_them(tmp_path: Path) -> None:
    async with seed_app(tmp_path, clock=FixedClock()) as (app, _sim):
        await add_member(app, "ada", budget_monthly=12.5)
        await add_member(app, "bob")
        everyone = await views.costs_report(app, "month")
        ada = await views.costs_report(app, "month", member="ada")
        bob = await views.costs_report(app, "month", member="bob")
    team = app.config.preferences.budget
    assert ada.burn_down.monthly_budget_usd == 12.5
    assert ada.burn_down.daily_budget_usd == team.daily_usd  # no cap of her own: the team's bounds her day
    assert bob.burn_down.monthly_budget_usd == everyone.burn_down.monthly_budget_usd == team.monthly_usd
