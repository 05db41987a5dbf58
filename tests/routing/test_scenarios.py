"""Scenarios derived from the seed, run as dry runs through the whole router (config -> store -> decide), each
checked against the policy the README documents ("How routing decides"): the provider (and account)
chosen and the reason.

The line-up is the seed's (providers/simulator/lineup.py): Z.AI glm-4.7 (205K), Kimi kimi-k3.1-pro (1M), three free
Google accounts with gemini-3.5-flash-lite (1M), OpenAI gpt-5.2 (400K), Anthropic claude-sonnet-4-6 (1M), with the
seed's preference lists, default zai and budget mode quality_first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from storage.accounts import cooldown_job, disable_job, failure_job, pool_served_job
from tests.routing.e2e import Routed, ask, routed

pytestmark = pytest.mark.anyio

CODING_PROMPT = "Refactor this function:\n```python\ndef add(a, b):\n    return a+b\n```"
#: ~420K o200k tokens: beyond gpt-5.2's 400K window, within the 1M windows (with their tokenizer margins)
HUGE = "word " * 420_000


@dataclass(frozen=True)
class Scenario:
    id: str
    request: dict[str, Any]
    provider: str | None
    reason: str | None
    account: str | None = None
    preferences: dict[str, Any] = field(default_factory=dict[str, Any])
    #: runtime state before the call: (what, account) with what in exhausted / cooldown / breaker / disabled
    state: tuple[tuple[str, str], ...] = ()
    prompt: str = "Handle this request"


SCENARIOS = [
    # the task type's list leads when no quality is given (README, "How routing decides" §3, tier 4)
    Scenario("coding goes to the head of the coding list", {"task_type": "coding"}, "openai", "preference"),
    Scenario("reasoning goes to the head of its list", {"task_type": "reasoning"}, "anthropic", "preference"),
    Scenario("creative goes to the head of its list", {"task_type": "creative"}, "openai", "preference"),
    Scenario("simple goes to the google pool", {"task_type": "simple"}, "google", "preference", "google-1"),
    Scenario(
        "an inferred task type routes like a given one",
        {},
        "openai",
        "preference",
        prompt=CODING_PROMPT,
    ),
    # an explicit quality orders first (tier 2); the task list breaks ties within it
    Scenario(
        "max_speed prefers the speed list", {"task_type": "coding", "quality": "max_speed"}, "google", "preference"
    ),
    Scenario("max_quality prefers its list", {"task_type": "simple", "quality": "max_quality"}, "openai", "preference"),
    Scenario("max_context prefers its list", {"task_type": "coding", "quality": "max_context"}, "google", "preference"),
    Scenario(
        "max_context without a list ranks by window",
        {"task_type": "coding", "quality": "max_context"},
        "google",  # 1,048,576 tokens against Claude's 1,000,000
        "context",
        preferences={"qualityPreferences": {}},
        # Kimi's window equals Google's: set aside (a static filter), so only the window tells the rest apart
        state=(("disabled", "kimi"),),
    ),
    Scenario(
        "balanced has no list: the task list decides",
        {"task_type": "reasoning", "quality": "balanced"},
        "anthropic",
        "preference",
    ),
    # budget modes
    Scenario(
        "free_only never picks a paid model",
        {"task_type": "coding", "budget_mode": "free_only"},
        "google",
        "cost",
    ),
    Scenario(
        "cost_first follows the cost_first list ahead of the task list",
        {"task_type": "coding", "budget_mode": "cost_first"},
        "kimi",
        "cost",
    ),
    Scenario(
        "cost_first without a cost_first list keeps the task list first",
        {"task_type": "coding", "budget_mode": "cost_first"},
        "openai",
        "preference",
        preferences={"qualityPreferences": {"max_quality": ["openai", "anthropic"]}},
    ),
    Scenario(
        "an explicit quality list leads the cost_first list",
        {"task_type": "coding", "budget_mode": "cost_first", "quality": "max_quality"},
        "openai",
        "preference",
    ),
    Scenario(
        "the cost_first list breaks the quality list's ties before the task list",
        {"task_type": "coding", "budget_mode": "cost_first", "quality": "max_quality"},
        "anthropic",
        "cost",
        preferences={
            "qualityPreferences": {
                "max_quality": ["deepseek"],  # configured nowhere: every provider ties on this list
                "cost_first": ["anthropic", "openai"],
            }
        },
    ),
    Scenario(
        "max_cost_usd leaves only what fits the cap",
        {"task_type": "coding", "max_cost_usd": 0.001},
        "google",
        "cost",
    ),
    Scenario(
        "with no list for the task the default leads",
        {"task_type": "coding"},
        "zai",
        "preference",
        preferences={"taskPreferences": {}},
    ),
    # context
    Scenario(
        "an oversized prompt skips the small windows", {"task_type": "coding"}, "anthropic", "context", prompt=HUGE
    ),
    # pins
    Scenario("a provider pin wins", {"task_type": "coding", "provider": "zai"}, "zai", "manual"),
    Scenario("a model pin finds its provider", {"task_type": "coding", "model": "kimi-k3.1-pro"}, "kimi", "manual"),
    Scenario(
        "a pinned provider that cannot serve fails over",
        {"task_type": "coding", "provider": "kimi"},
        "openai",
        "limit",
        state=(("exhausted", "kimi"),),
    ),
    Scenario(
        "a disabled pinned provider fails over",
        {"task_type": "coding", "provider": "openai"},
        "anthropic",
        "failover",
        state=(("disabled", "openai"),),
    ),
    Scenario(
        "a pinned provider that cannot serve is an error without autoSwitch",
        {"task_type": "coding", "provider": "kimi"},
        None,
        None,
        preferences={"autoSwitch": False},
        state=(("cooldown", "kimi"),),
    ),
    # limits and health
    Scenario(
        "an exhausted first choice moves down the list",
        {"task_type": "coding"},
        "anthropic",
        "limit",
        state=(("exhausted", "openai"),),
    ),
    Scenario(
        "a cooling first choice moves down the list",
        {"task_type": "reasoning"},
        "kimi",
        "limit",
        state=(("cooldown", "anthropic"),),
    ),
    Scenario(
        "a failing first choice moves down the list",
        {"task_type": "coding"},
        "anthropic",
        "failover",
        state=(("breaker", "openai"),),
    ),
    Scenario(
        # a disabled account is a static filter: not "the wanted provider" unless pinned (README routing §4)
        "a disabled first choice is passed over",
        {"task_type": "coding"},
        "anthropic",
        "preference",
        state=(("disabled", "openai"),),
    ),
    Scenario(
        "an exhausted pool account is skipped within the pool",
        {"task_type": "simple"},
        "google",
        "preference",
        "google-2",
        state=(("exhausted", "google-1"),),
    ),
    Scenario(
        "an exhausted pool hands over to the next provider on the list",
        {"task_type": "simple"},
        "zai",
        "limit",
        state=(("exhausted", "google-1"), ("exhausted", "google-2"), ("cooldown", "google-3")),
    ),
    Scenario(
        "without switchOnLimit a limit is reported",
        {"task_type": "coding"},
        None,
        None,
        preferences={"switchOnLimit": False},
        state=(("exhausted", "openai"),),
    ),
    Scenario(
        "without switchOnLimit a failing provider still fails over",
        {"task_type": "coding"},
        "anthropic",
        "failover",
        preferences={"switchOnLimit": False},
        state=(("breaker", "openai"),),
    ),
    # the seed's four use cases
    Scenario(
        "use case 1: free tier maximisation",
        {"task_type": "reasoning"},
        "google",
        "cost",
        preferences={"budgetMode": "free_only", "default": "google"},
    ),
    Scenario(
        "use case 2: quality first for reasoning",
        {"task_type": "reasoning"},
        "openai",
        "preference",
        preferences={"taskPreferences": {"reasoning": ["openai", "anthropic"]}},
    ),
    Scenario(
        "use case 3: cost optimised coding",
        {"task_type": "coding"},
        "zai",
        "preference",
        # the use case's own configuration: no cost_first list, so the task list orders the providers
        preferences={
            "budgetMode": "cost_first",
            "taskPreferences": {"simple": ["google", "kimi", "zai"], "coding": ["zai", "google"]},
            "qualityPreferences": {},
        },
    ),
    Scenario(
        "use case 4: the pool rotates past the account used last",
        {"task_type": "simple"},
        "google",
        "preference",
        "google-3",
        state=(("served", "google-2"),),
    ),
]


async def apply_state(world: Routed, what: str, account: str) -> None:
    app, now = world.app, world.clock()
    later = now + timedelta(hours=1)
    if what == "exhausted":
        await app.states.set_exhausted(account, None, later, "scenario", now)
    elif what == "cooldown":
        await app.store.run(cooldown_job(account, None, later, "scenario", now))
    elif what == "disabled":
        await app.store.run(disable_job(account, "scenario", now))
    elif what == "breaker":
        model = next(p for p in app.config.providers.values() if any(a.id == account for a in p.accounts))
        for _ in range(3):
            await app.store.run(failure_job(account, next(iter(model.models)), now))
    else:
        await app.store.run(pool_served_job("google", account))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
async def test_the_dry_run_decision_follows_the_documented_policy(tmp_path: Path, scenario: Scenario) -> None:
    async with routed(tmp_path, **scenario.preferences) as world:
        for what, account in scenario.state:
            await apply_state(world, what, account)
        with anyio.fail_after(20):
            preview = await world.app.router.preview(ask(scenario.prompt, **scenario.request))
        assert (preview.provider, preview.reason) == (scenario.provider, scenario.reason), preview.explanation
        if scenario.account is not None:
            assert preview.account == scenario.account
        if scenario.provider is None:
            assert preview.error is not None and preview.confidence == 0
        assert world.requests("openai", "anthropic", "zai", "kimi", "google-1", "google-2", "google-3") == 0
