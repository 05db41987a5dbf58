"""The seed's four use cases, end to end through decide()."""

from __future__ import annotations

from collections import Counter
from typing import Any

from routing.preferences import Preferences
from routing.types import CandidateState
from tests.routing.seed import LATER, cand, chosen, pool, run

# --- Use case 1: free tier maximisation — always free providers, rotating when a quota runs out

FREE_ONLY = Preferences(
    default="google", task_preferences={"simple": ("google", "kimi", "zai")}, budget_mode="free_only"
)


def free_tier(**per: dict[str, Any]) -> list[CandidateState]:
    return [*pool("google", 3, per=per), cand("kimi", **per.get("kimi", {})), cand("zai"), cand("openai")]


def test_free_tier_maximisation_uses_the_free_pool_first() -> None:
    decision = run(free_tier(), prefs=FREE_ONLY, task_type="simple")
    assert chosen(decision) == "google@google-1"
    assert {r.provider for r in decision.ranked} == {"google", "kimi"}


def test_free_tier_maximisation_rotates_to_the_next_free_provider_when_the_pool_is_exhausted() -> None:
    exhausted = {f"google-{i}": {"exhausted_until": LATER} for i in (1, 2, 3)}
    decision = run(free_tier(**exhausted), prefs=FREE_ONLY, task_type="simple")
    assert chosen(decision) == "kimi"
    assert decision.reason == "limit"


def test_free_tier_maximisation_errors_rather_than_paying_when_every_free_quota_is_gone() -> None:
    everything = {f"google-{i}": {"exhausted_until": LATER} for i in (1, 2, 3)} | {"kimi": {"exhausted_until": LATER}}
    decision = run(free_tier(**everything), prefs=FREE_ONLY, task_type="simple")
    assert decision.chosen is None and decision.error is not None
    assert {x.account: x.filter for x in decision.excluded if x.provider in ("zai", "openai")} == {
        "zai": "budget_mode",
        "openai": "budget_mode",
    }


# --- Use case 2: quality first — the best providers for complex reasoning

QUALITY_FIRST = Preferences(budget_mode="quality_first", task_preferences={"reasoning": ("openai", "anthropic")})


def test_quality_first_sends_reasoning_to_the_first_listed_provider_then_the_second() -> None:
    candidates = [cand("openai"), cand("anthropic"), cand("zai"), *pool("google", 2)]
    assert chosen(run(candidates, prefs=QUALITY_FIRST, task_type="reasoning")) == "openai"
    candidates[0] = cand("openai", cooldown_until=LATER)
    decision = run(candidates, prefs=QUALITY_FIRST, task_type="reasoning")
    assert chosen(decision) == "anthropic" and decision.reason == "limit"


def test_quality_first_ranks_unlisted_providers_by_quality() -> None:
    decision = run([cand("zai"), cand("kimi"), *pool("google", 1)], prefs=QUALITY_FIRST, task_type="reasoning")
    assert [r.provider for r in decision.ranked] == ["kimi", "zai", "google"]


# --- Use case 3: cost optimised — minimise cost while keeping acceptable quality

COST_FIRST = Preferences(
    budget_mode="cost_first", task_preferences={"simple": ("google", "kimi", "zai"), "coding": ("zai", "google")}
)


def test_cost_optimised_follows_the_task_lists() -> None:
    candidates = [cand("openai"), cand("anthropic"), cand("zai"), cand("kimi"), *pool("google", 2)]
    assert chosen(run(candidates, prefs=COST_FIRST, task_type="simple")) == "google@google-1"
    assert chosen(run(candidates, prefs=COST_FIRST, task_type="coding")) == "zai"


def test_cost_optimised_picks_the_cheapest_where_no_list_applies() -> None:
    candidates = [cand("openai"), cand("anthropic"), cand("zai")]
    decision = run(candidates, prefs=COST_FIRST, task_type="creative")
    assert [r.provider for r in decision.ranked] == ["zai", "openai", "anthropic"]
    assert decision.reason == "cost"


# --- Use case 4: multi-account load balancing — five Google accounts in round robin


def test_five_google_accounts_share_the_load_evenly_as_the_cursor_advances() -> None:
    picks: Counter[str] = Counter()
    cursor = 0
    for _ in range(25):
        decision = run(pool("google", 5, cursor=cursor))
        assert decision.chosen is not None
        picks[decision.chosen.account] += 1
        cursor = (decision.ranked[0].pool_position + int(decision.chosen.account.split("-")[1])) % 5
    assert picks == {f"google-{i}": 5 for i in range(1, 6)}


def test_round_robin_passes_over_exhausted_accounts_without_a_call() -> None:
    per = {"google-2": {"exhausted_until": LATER}, "google-3": {"cooldown_until": LATER}}
    decision = run(pool("google", 5, cursor=1, per=per))
    assert chosen(decision) == "google@google-4"
    assert [r.account for r in decision.ranked] == ["google-4", "google-5", "google-1"]
