"""The seed's switches mean what they say: `autoSwitch: false` keeps the chosen or pinned provider and returns its
failure; `switchOnLimit: false` reports a quota or rate limit instead of routing around it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import anyio
import pytest

from routing.results import NoRouteAvailable
from storage.accounts import cooldown_job
from tests.routing.e2e import ask, routed

pytestmark = pytest.mark.anyio

CODING = "Fix this Python function"
OTHERS = ("anthropic", "zai", "kimi", "google-1", "google-2", "google-3")


async def test_without_auto_switch_a_failing_pinned_provider_returns_its_failure(tmp_path: Path) -> None:
    async with routed(tmp_path, autoSwitch=False) as world:
        world.sim.set_down("kimi", "server_error")
        with anyio.fail_after(10), pytest.raises(NoRouteAvailable) as caught:
            await world.app.router.route(ask(CODING, task_type="coding", provider="kimi"))
        assert [(a.provider, a.error_class) for a in caught.value.attempts] == [("kimi", "server_error")]
        assert world.requests("openai", "anthropic", "zai", "google-1", "google-2", "google-3") == 0


async def test_without_auto_switch_the_policys_choice_is_kept_when_it_fails(tmp_path: Path) -> None:
    async with routed(tmp_path, autoSwitch=False) as world:
        world.sim.set_down("openai", "overloaded")
        with anyio.fail_after(10), pytest.raises(NoRouteAvailable) as caught:
            await world.app.router.route(ask(CODING, task_type="coding"))
        assert [a.provider for a in caught.value.attempts] == ["openai"]
        assert world.requests(*OTHERS) == 0


async def test_without_auto_switch_a_cooling_pinned_provider_is_an_error_naming_the_fix(tmp_path: Path) -> None:
    async with routed(tmp_path, autoSwitch=False) as world:
        now = world.clock()
        await world.app.store.run(cooldown_job("kimi", None, now + timedelta(seconds=40), "rate limited", now))
        with anyio.fail_after(10), pytest.raises(NoRouteAvailable) as caught:
            await world.app.router.route(ask(CODING, task_type="coding", provider="kimi"))
        assert "kimi cannot serve" in str(caught.value) and "autoSwitch" in str(caught.value)
        assert caught.value.retry_at == now + timedelta(seconds=40)
        assert world.requests("openai", "kimi", *OTHERS) == 0


async def test_without_auto_switch_the_last_candidate_is_retried_after_its_retry_after(tmp_path: Path) -> None:
    async with routed(tmp_path, autoSwitch=False) as world:
        world.sim.script("openai", ["rate_limited"])
        with anyio.fail_after(10):
            result = await world.app.router.route(ask(CODING, task_type="coding"))
        assert world.waits == [1.0]
        assert [(a.provider, a.outcome) for a in result.attempts] == [("openai", "error"), ("openai", "success")]


async def test_without_switch_on_limit_a_rate_limit_is_reported_not_routed_around(tmp_path: Path) -> None:
    async with routed(tmp_path, switchOnLimit=False) as world:
        world.sim.set_down("openai", "rate_limited")
        with anyio.fail_after(10), pytest.raises(NoRouteAvailable) as caught:
            await world.app.router.route(ask(CODING, task_type="coding"))
        # the pinned choice is the last one allowed: it is tried again once after its Retry-After
        assert [(a.provider, a.error_class) for a in caught.value.attempts] == [("openai", "rate_limited")] * 2
        assert caught.value.retry_at is not None
        assert world.requests(*OTHERS) == 0
        # the next request sees the cooldown before any call and reports the limit as well
        with pytest.raises(NoRouteAvailable) as again:
            await world.app.router.route(ask(CODING, task_type="coding"))
        assert "switchOnLimit" in str(again.value)
        assert world.sim.stats("openai").requests == 2


async def test_without_switch_on_limit_an_exhausted_quota_is_reported(tmp_path: Path) -> None:
    async with routed(tmp_path, switchOnLimit=False) as world:
        world.sim.set_down("openai", "quota_exhausted")
        with anyio.fail_after(10), pytest.raises(NoRouteAvailable) as caught:
            await world.app.router.route(ask(CODING, task_type="coding"))
        assert [(a.provider, a.error_class) for a in caught.value.attempts] == [("openai", "quota_exhausted")]
        assert world.requests(*OTHERS) == 0


async def test_without_switch_on_limit_an_error_that_is_not_a_limit_still_fails_over(tmp_path: Path) -> None:
    async with routed(tmp_path, switchOnLimit=False) as world:
        world.sim.script("openai", ["server_error"])
        with anyio.fail_after(10):
            result = await world.app.router.route(ask(CODING, task_type="coding"))
        assert (result.provider, result.reason) == ("anthropic", "failover")


async def test_without_switch_on_limit_a_pool_still_rotates_past_an_exhausted_account(tmp_path: Path) -> None:
    async with routed(tmp_path, switchOnLimit=False) as world:
        world.sim.script("google-1", ["quota_exhausted"])
        with anyio.fail_after(10):
            result = await world.app.router.route(ask("Summarize this line", task_type="simple"))
        assert (result.provider, result.account) == ("google", "google-2")
