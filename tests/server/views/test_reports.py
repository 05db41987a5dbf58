"""The read-only views shared by the MCP server and the CLI, over the seed's providers on the simulator."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from providers.types import Message
from routing.router import RouteRequest
from server import views
from tests.clock import FixedClock
from tests.harness import seed_app

pytestmark = pytest.mark.anyio


def ask(text: str, **fields: object) -> RouteRequest:
    return RouteRequest(messages=(Message(role="user", content=text),), **fields)  # type: ignore[arg-type]


async def test_status_lists_every_provider_healthy_with_its_accounts_and_keys_by_reference(tmp_path: Path) -> None:
    async with seed_app(tmp_path) as (app, _sim):
        status = await views.provider_status(app)
    assert status.ready and not status.problems
    assert [p.id for p in status.providers] == ["zai", "kimi", "google", "openai", "anthropic"]
    google = next(p for p in status.providers if p.id == "google")
    assert [a.id for a in google.accounts] == ["google-1", "google-2", "google-3"]
    assert all(a.has_key and a.key == "environment variable SIM_KEY" for a in google.accounts)
    assert {p.health for p in status.providers} == {"healthy"}
    day = next(q for q in google.accounts[0].quota if q.period == "day")
    assert (day.kind, day.used, day.limit) == ("requests", 0, 20)


async def test_a_rate_limited_provider_shows_its_cooldown_and_failed_attempt(tmp_path: Path) -> None:
    async with seed_app(tmp_path) as (app, sim):
        sim.script("openai", ["rate_limited"])
        with anyio.fail_after(10):
            await app.router.route(ask("Fix this Python function", task_type="coding"))
        status = await views.provider_status(app, "openai")
    [openai] = status.providers
    assert openai.health == "cooling_down"
    assert openai.cooldown_until is not None and openai.available_again_at == openai.cooldown_until
    assert openai.requests_24h == 1 and openai.failed_24h == 1
    assert openai.accounts[0].blocks[0].model == "gpt-5.2"


async def test_an_unknown_provider_is_refused_naming_the_configured_ones(tmp_path: Path) -> None:
    async with seed_app(tmp_path) as (app, _sim):
        with pytest.raises(ValueError, match="configured: zai, kimi, google, openai, anthropic"):
            await views.provider_status(app, "nope")
        with pytest.raises(ValueError, match="no provider 'nope'"):
            await views.quota_report(app, "day", "nope")


async def test_the_quota_report_counts_use_and_forecasts_exhaustion_at_the_current_rate(tmp_path: Path) -> None:
    clock = FixedClock()
    async with seed_app(tmp_path, google_daily=20, clock=clock) as (app, _sim):
        with anyio.fail_after(10):
            for n in range(6):
                await app.router.route(ask(f"Summarize item {n} in one line", task_type="simple"))
        report = await views.quota_report(app, "day", "google")
        month = await views.quota_report(app, "month")
    [google] = report.providers
    used = {a.account: a.requests_used for a in google.accounts}
    assert used == {"google-1": 2, "google-2": 2, "google-3": 2}
    first = google.accounts[0]
    assert first.requests_limit == 20 and first.spend_usd == 0
    # Gemini resets at midnight Pacific: 2 requests in the 10 hours since, 18 more would take 90 hours
    assert first.forecast_exhausted_at is None and "until the reset" in first.forecast
    assert first.resets_at.isoformat() == "2026-11-29T08:00:00+00:00"
    assert month.period == "month" and len(month.providers) == 5


async def test_the_forecast_names_the_first_limit_to_run_out_before_the_reset(tmp_path: Path) -> None:
    clock = FixedClock()
    clock.now = clock.now.replace(hour=8, minute=30)  # 00:30 in Pacific time, when Gemini resets
    async with seed_app(tmp_path, google_daily=4, clock=clock) as (app, _sim):
        with anyio.fail_after(10):
            for n in range(3):
                await app.router.route(ask(f"Summarize item {n} in one line", task_type="simple"))
        report = await views.quota_report(app, "day", "google")
    first = report.providers[0].accounts[0]
    assert first.forecast_limit == "requests"
    assert first.forecast_exhausted_at is not None and first.forecast_exhausted_at < first.resets_at


async def test_the_decision_log_shows_a_failover_newest_first_and_in_detail(tmp_path: Path) -> None:
    async with seed_app(tmp_path) as (app, sim):
        sim.script("openai", ["rate_limited"])
        with anyio.fail_after(10):
            await app.router.route(ask("Say hello", task_type="simple"))
            result = await app.router.route(ask("Fix this Python function", task_type="coding"))
        log = await views.decision_log(app, 10)
        detail = await views.decision_detail(app, result.decision_id or 0)
        missing = await views.decision_detail(app, 999_999)
    assert [d.id for d in log.decisions] == sorted((d.id for d in log.decisions), reverse=True)
    newest = log.decisions[0]
    assert newest.failover and newest.served and newest.provider == "anthropic" and newest.reason == "failover"
    assert [(a.provider, a.error_class) for a in newest.attempts] == [("openai", "rate_limited"), ("anthropic", None)]
    assert detail is not None and detail.candidates and detail.explanation
    assert detail.prompt is None
    assert missing is None


async def test_metrics_group_attempts_per_provider_account_and_model(tmp_path: Path) -> None:
    async with seed_app(tmp_path) as (app, sim):
        sim.script("openai", ["rate_limited"])
        with anyio.fail_after(10):
            await app.router.route(ask("Fix this Python function", task_type="coding"))
        metrics = await views.metrics_report(app)
    by_provider = {m.group: m for m in metrics.by_provider}
    assert by_provider["openai"].errors_by_class == {"rate_limited": 1}
    assert by_provider["anthropic"].success == 1 and by_provider["anthropic"].cost_usd > 0
    assert {m.group for m in metrics.by_model} == {"openai/gpt-5.2", "anthropic/claude-sonnet-4-6"}


async def test_the_catalogue_view_lists_models_with_prices_and_key_references(tmp_path: Path) -> None:
    async with seed_app(tmp_path) as (app, _sim):
        view = await views.providers_view(app)
        prefs = views.preferences_view(app.config.preferences)
    openai = next(p for p in view.providers if p.id == "openai")
    assert openai.credentials == {"openai": "env:SIM_KEY"}
    assert openai.models[0].id == "gpt-5.2" and openai.models[0].input_cost_per_1m > 0
    assert prefs.task_preferences["coding"][0] == "openai" and prefs.budget_mode == "quality_first"


async def test_status_of_a_missing_configuration_says_to_run_setup(tmp_path: Path) -> None:
    from server.config.paths import Paths
    from server.wiring.app import open_app

    async with open_app(Paths.in_home(tmp_path), {}, clock=FixedClock()) as app:
        status = await views.provider_status(app)
    assert not status.ready and status.providers == []
    assert "provider-router setup" in status.problems[0]
    bare = views.unavailable_status("the database is damaged; Fix: run `provider-router reset`", "x", FixedClock()())
    assert not bare.ready and bare.problems


async def test_every_window_carries_its_forecast_in_the_quota_report_and_in_status(tmp_path: Path) -> None:
    clock = FixedClock()
    async with seed_app(tmp_path, google_daily=20, clock=clock) as (app, _sim):
        with anyio.fail_after(10):
            for n in range(3):
                await app.router.route(ask(f"Summarize item {n} in one line", task_type="simple"))
        report = await views.quota_report(app, "day", "google")
        status = await views.provider_status(app, "google")
    first = report.providers[0].accounts[0]
    [day] = [w for w in first.windows if w.period == "day"]
    # one request in the 10 hours since midnight Pacific: 0.1 an hour, 1.4 more before the reset in 14 hours
    assert (day.used, day.limit, day.rate_per_hour, day.exhausted_at) == (1, 20, 0.1, None)
    assert day.unused_at_reset == 17
    assert day.forecast == "19 of 20 requests left, reset in 14 h, 17 would go unused at this rate"
    [seen] = [q for q in status.providers[0].accounts[0].quota if q.period == "day"]
    assert (seen.rate_per_hour, seen.unused_at_reset, seen.forecast) == (0.1, 17, day.forecast)
