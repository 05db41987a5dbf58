"""DESIGN.md's error table end to end: what each error class does to the account, where the request goes next,
what the caller sees and what the decision log keeps."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import anyio
import pytest

from providers.simulator.lineup import PREFERENCES
from routing.results import InvalidRequestError, NoRouteAvailable
from storage.accounts import cooldown_job
from tests.routing.e2e import ask, routed

pytestmark = pytest.mark.anyio

CODING = "Fix this Python function"
EVERY_ACCOUNT = ("openai", "anthropic", "zai", "kimi", "google-1", "google-2", "google-3")


async def test_a_rate_limit_cools_the_model_until_retry_after_and_the_next_candidate_serves(tmp_path: Path) -> None:
    async with routed(tmp_path) as world:
        world.sim.script("openai", ["rate_limited"])  # the simulator announces Retry-After: 1
        with anyio.fail_after(10):
            result = await world.app.router.route(ask(CODING, task_type="coding"))
        assert (result.provider, result.reason) == ("anthropic", "failover")
        assert world.waits == []  # something else was healthy: no waiting
        health = await world.health("openai", "gpt-5.2")
        assert health.cooldown_until == world.clock() + timedelta(seconds=1)
        preview = await world.app.router.preview(ask(CODING, task_type="coding"))
        assert {e["account"]: e["filter"] for e in preview.excluded} == {"openai": "cooldown"}
        world.clock.advance(seconds=1)
        back = await world.app.router.route(ask(CODING, task_type="coding"))
        assert back.provider == "openai"
        logged = await world.app.decisions.get(result.decision_id or 0)
        assert logged is not None
        assert [(a.provider, a.outcome, a.error_class) for a in logged.attempts] == [
            ("openai", "error", "rate_limited"),
            ("anthropic", "success", None),
        ]


async def test_an_exhausted_daily_quota_is_never_reprobed_before_midnight_pacific(tmp_path: Path) -> None:
    async with routed(tmp_path) as world:
        world.sim.script("google-1", ["quota_exhausted"])
        with anyio.fail_after(20):
            first = await world.app.router.route(ask("Summarize this line", task_type="simple"))
            assert (first.account, [a.error_class for a in first.attempts]) == ("google-2", ["quota_exhausted", None])
            health = await world.health("google-1", "gemini-3.5-flash-lite")
            # 18:00 UTC on Nov 28 is 10:00 in Los Angeles: the free tier comes back at 08:00 UTC on Nov 29
            assert health.exhausted_until == datetime.fromisoformat("2026-11-29T08:00:00+00:00")
            for n in range(6):
                world.clock.advance(hours=2)
                served = await world.app.router.route(ask(f"Summarize line {n}", task_type="simple"))
                assert served.account in ("google-2", "google-3")
            assert world.sim.stats("google-1").requests == 1
            world.clock.now = datetime.fromisoformat("2026-11-29T08:00:00+00:00")
            served_by = {
                (await world.app.router.route(ask(f"Summarize {n}", task_type="simple"))).account for n in "abc"
            }
        assert "google-1" in served_by
        assert world.sim.stats("google-1").requests == 2


@pytest.mark.parametrize(
    ("fault", "task_type", "first", "model", "second"),
    [
        ("overloaded", "reasoning", "anthropic", "claude-sonnet-4-6", "kimi"),
        ("server_error", "coding", "openai", "gpt-5.2", "anthropic"),
    ],
)
async def test_repeated_server_failures_open_the_breaker_after_short_cooldowns(
    tmp_path: Path, fault: str, task_type: str, first: str, model: str, second: str
) -> None:
    async with routed(tmp_path) as world:
        world.sim.set_down(first, fault)  # type: ignore[arg-type]
        with anyio.fail_after(20):
            for _ in range(3):
                result = await world.app.router.route(ask("Work on this", task_type=task_type))
                assert (result.provider, result.attempts[0].error_class) == (second, fault)
                health = await world.health(first, model)
                assert health.cooldown_until == world.clock() + timedelta(seconds=10)
                world.clock.advance(seconds=11)
            health = await world.health(first, model)
            assert health.consecutive_failures == 3 and health.breaker_open_until is not None
            preview = await world.app.router.preview(ask("Work on this", task_type=task_type))
            assert {e["account"]: e["filter"] for e in preview.excluded} == {first: "unhealthy"}
            world.sim.set_down(first, None)
            world.clock.advance(seconds=30)
            recovered = await world.app.router.route(ask("Work on this", task_type=task_type))
        assert recovered.provider == first
        health = await world.health(first, model)
        assert health.consecutive_failures == 0 and health.breaker_open_until is None
        assert world.sim.stats(first).requests == 4


async def test_a_reset_connection_cools_the_whole_account_and_counts_toward_the_breaker(tmp_path: Path) -> None:
    async with routed(tmp_path) as world:
        world.sim.script("openai", ["reset"])
        with anyio.fail_after(10):
            result = await world.app.router.route(ask(CODING, task_type="coding"))
        assert result.provider == "anthropic"
        assert result.attempts[0].error_class == "transport"
        account = await world.account("openai")
        assert account.health.cooldown_until == world.clock() + timedelta(seconds=5)
        assert account.model("gpt-5.2").health.consecutive_failures == 1
        assert await world.pending() == 0


async def test_a_hung_provider_times_out_per_attempt_and_the_request_fails_over(tmp_path: Path) -> None:
    async with routed(tmp_path, settings={"requestTimeoutS": 0.3}) as world:
        world.sim.script("openai", ["timeout"])
        with anyio.fail_after(10):
            result = await world.app.router.route(ask(CODING, task_type="coding"))
        assert result.provider == "anthropic"
        assert (result.attempts[0].error_class, result.attempts[0].detail) == ("transport", "no answer within 0.3 s")
        assert result.attempts[0].latency_ms >= 300
        assert await world.pending() == 0


async def test_a_refused_key_disables_the_account_until_the_key_changes(tmp_path: Path) -> None:
    async with routed(tmp_path) as world:
        world.sim.script("openai", ["auth"])
        with anyio.fail_after(10):
            result = await world.app.router.route(ask(CODING, task_type="coding"))
            assert (result.provider, result.attempts[0].error_class) == ("anthropic", "auth_failed")
            assert (await world.account("openai")).disabled_reason is not None
            preview = await world.app.router.preview(ask(CODING, task_type="coding"))
            assert {e["account"]: e["filter"] for e in preview.excluded} == {"openai": "disabled"}
            world.clock.advance(days=2)
            await world.app.router.route(ask(CODING, task_type="coding"))
        assert world.sim.stats("openai").requests == 1


async def test_a_404_marks_the_model_retired_not_the_account(tmp_path: Path) -> None:
    async with routed(tmp_path) as world:
        world.sim.script("openai", ["model_not_found"])
        with anyio.fail_after(10):
            result = await world.app.router.route(ask(CODING, task_type="coding"))
            assert (result.provider, result.attempts[0].error_class) == ("anthropic", "model_not_found")
            account = await world.account("openai")
            preview = await world.app.router.preview(ask(CODING, task_type="coding"))
        assert account.disabled_reason is None and account.health.cooldown_until is None
        assert {e["account"]: e["filter"] for e in preview.excluded} == {"openai": "retired"}


async def test_a_context_too_long_skips_every_window_not_larger_without_a_cooldown(tmp_path: Path) -> None:
    creative = ["openai", "zai", "kimi"]
    async with routed(tmp_path, taskPreferences={**PREFERENCES["taskPreferences"], "creative": creative}) as world:
        # creative ranks openai (400K), zai (205K), kimi (1M), anthropic (1M), google (1M)
        world.sim.script("openai", ["context_too_long"])
        with anyio.fail_after(10):
            result = await world.app.router.route(ask("Write a poem about the sea", task_type="creative"))
            assert [(a.provider, a.error_class) for a in result.attempts] == [
                ("openai", "context_too_long"),
                ("kimi", None),
            ]
            assert world.requests("zai") == 0
            health = await world.health("openai", "gpt-5.2")
            assert (health.cooldown_until, health.consecutive_failures) == (None, 0)
            again = await world.app.router.route(ask("Write a poem about the sky", task_type="creative"))
        assert again.provider == "openai"


async def test_an_invalid_request_stops_with_the_providers_message_and_no_failover(tmp_path: Path) -> None:
    async with routed(tmp_path) as world:
        world.sim.script("openai", ["invalid"])
        with anyio.fail_after(10), pytest.raises(InvalidRequestError) as caught:
            await world.app.router.route(ask(CODING, task_type="coding"))
        error = caught.value
        assert "openai rejected the request: Invalid type for 'messages[0].content'" in str(error)
        assert [(a.provider, a.error_class) for a in error.attempts] == [("openai", "invalid_request")]
        assert world.requests(*EVERY_ACCOUNT) == 1
        logged = await world.app.decisions.get(error.decision_id or 0)
        assert logged is not None and [a.error_class for a in logged.attempts] == ["invalid_request"]
        assert (await world.health("openai", "gpt-5.2")).cooldown_until is None


async def test_when_every_candidate_fails_the_error_lists_each_attempt_and_the_earliest_retry(tmp_path: Path) -> None:
    async with routed(tmp_path) as world:
        for account in EVERY_ACCOUNT:
            world.sim.set_down(account, "rate_limited")
        started = world.clock()
        with anyio.fail_after(10), pytest.raises(NoRouteAvailable) as caught:
            await world.app.router.route(ask(CODING, task_type="coding"))
        error = caught.value
        # seven candidates, then the last one again after waiting out its Retry-After
        assert [a.account for a in error.attempts] == ["openai", "anthropic", "zai", "kimi", *GOOGLES, "google-3"]
        assert {a.error_class for a in error.attempts} == {"rate_limited"}
        assert world.waits == [1.0]
        assert error.retry_at == started + timedelta(seconds=1)
        text = str(error)
        assert "8 tried" in text and "Something frees up at 2026-11-28T18:00:01+00:00" in text
        assert text.count("rate_limited") == 8
        assert await world.pending() == 0


GOOGLES = ["google-1", "google-2", "google-3"]


async def test_when_nothing_can_serve_before_any_call_the_error_names_the_earliest_reset(tmp_path: Path) -> None:
    async with routed(tmp_path) as world:
        now = world.clock()
        for n, account in enumerate(EVERY_ACCOUNT):
            await world.app.store.run(
                cooldown_job(account, None, now + timedelta(minutes=5 + n), "rate_limited: test", now)
            )
        with anyio.fail_after(10), pytest.raises(NoRouteAvailable) as caught:
            await world.app.router.route(ask(CODING, task_type="coding"))
        assert caught.value.attempts == ()
        assert caught.value.retry_at == now + timedelta(minutes=5)
        assert "  - openai/gpt-5.2@openai: cooldown (rate limited until 2026-11-28T18:05:00+00:00)" in str(caught.value)
        assert world.requests(*EVERY_ACCOUNT) == 0
