"""decide()'s ranking: preference lists, quality modes, budget modes, preferenceScore and the score's parts."""

from __future__ import annotations

from typing import Any

import pytest

from routing.preferences import Preferences
from tests.routing.seed import LATER, SEED_PREFERENCES, cand, chosen, everyone, model, order, prefs, run

NO_LISTS = Preferences()


# (id, preferences, task fields, expected provider order, expected reason)
ORDER_CASES: list[tuple[str, Preferences, dict[str, Any], list[str], str]] = [
    (
        "coding follows its task list",
        SEED_PREFERENCES,
        {"task_type": "coding"},
        ["openai", "anthropic", "zai", "kimi", "google"],
        "preference",
    ),
    (
        "simple follows its task list",
        SEED_PREFERENCES,
        {"task_type": "simple"},
        ["google", "zai", "kimi", "openai", "anthropic"],
        "preference",
    ),
    (
        "max_speed list orders first, the task list breaks ties",
        SEED_PREFERENCES,
        {"task_type": "coding", "quality": "max_speed"},
        ["google", "zai", "kimi", "openai", "anthropic"],
        "preference",
    ),
    (
        "max_quality list orders first, the task list breaks ties",
        SEED_PREFERENCES,
        {"task_type": "reasoning", "quality": "max_quality"},
        ["openai", "anthropic", "kimi", "google", "zai"],
        "preference",
    ),
    (
        "max_context list first, then the largest window",
        SEED_PREFERENCES,
        {"task_type": "coding", "quality": "max_context"},
        ["google", "kimi", "anthropic", "openai", "zai"],
        "preference",
    ),
    (
        "max_context without a list orders by window",
        NO_LISTS,
        {"task_type": "coding", "quality": "max_context"},
        ["google", "kimi", "anthropic"],
        "context",
    ),
    (
        "max_speed without a list favours speed",
        NO_LISTS,
        {"task_type": "coding", "quality": "max_speed"},
        ["google"],
        "latency",
    ),
    (
        "max_quality without a list favours the model's quality",
        NO_LISTS,
        {"task_type": "coding", "quality": "max_quality"},
        ["anthropic", "openai"],
        "quality",
    ),
    (
        "the default breaks ties after the task list",
        prefs(task_preferences={}),
        {"task_type": "creative"},
        ["zai"],
        "preference",
    ),
    (
        "cost_first list orders first, ahead of the task list",
        prefs(budget_mode="cost_first"),
        {"task_type": "coding"},
        ["kimi", "google", "zai", "anthropic", "openai"],
        "cost",
    ),
    (
        "cost_first without a cost_first list keeps the task list",
        prefs(budget_mode="cost_first", quality_preferences={}),
        {"task_type": "coding"},
        ["openai", "anthropic", "zai", "kimi"],
        "preference",
    ),
    (
        "the cost_first list counts only in budget mode cost_first",
        prefs(budget_mode="quality_first"),
        {"task_type": "coding"},
        ["openai", "anthropic", "zai", "kimi", "google"],
        "preference",
    ),
    (
        "an explicit quality list leads, the cost_first list breaks its ties before the task list",
        prefs(budget_mode="cost_first"),
        {"task_type": "coding", "quality": "max_quality"},
        ["openai", "anthropic", "kimi", "google", "zai"],
        "preference",
    ),
    (
        "the cost_first list leads the window in max_context without a max_context list",
        prefs(budget_mode="cost_first", quality_preferences={"cost_first": ("anthropic", "google")}),
        {"task_type": "coding", "quality": "max_context"},
        ["anthropic", "google", "kimi"],
        "cost",
    ),
]


@pytest.mark.parametrize(
    ("preferences", "task_kw", "expected", "reason"), [c[1:] for c in ORDER_CASES], ids=[c[0] for c in ORDER_CASES]
)
def test_ranking_follows_the_documented_tiers(
    preferences: Preferences, task_kw: dict[str, Any], expected: list[str], reason: str
) -> None:
    decision = run(everyone(), prefs=preferences, **task_kw)
    assert order(decision)[: len(expected)] == expected
    assert decision.reason == reason


def test_a_provider_missing_from_every_list_still_serves_when_the_listed_ones_cannot() -> None:
    limited = {p: {"exhausted_until": LATER} for p in ("openai", "anthropic", "zai", "kimi")}
    decision = run(everyone(google_accounts=1, **limited), task_type="coding")
    assert chosen(decision) == "google@google-1"
    assert decision.reason == "limit"


@pytest.mark.parametrize(
    ("budget_mode", "winner", "reason"),
    [("quality_first", "anthropic", "quality"), ("cost_first", "zai", "cost")],
)
def test_the_budget_mode_decides_between_quality_and_cost_when_no_list_does(
    budget_mode: str, winner: str, reason: str
) -> None:
    decision = run([cand("anthropic"), cand("zai")], prefs=Preferences(budget_mode=budget_mode), task_type="coding")
    assert chosen(decision) == winner
    assert decision.reason == reason


def test_a_call_budget_mode_overrides_the_preferences() -> None:
    decision = run([cand("anthropic"), cand("zai")], prefs=NO_LISTS, budget_mode="cost_first")
    assert chosen(decision) == "zai"
    assert decision.budget_mode == "cost_first"


def test_cost_first_puts_free_models_before_paid_ones() -> None:
    decision = run(everyone(google_accounts=1), prefs=Preferences(budget_mode="cost_first"), task_type="coding")
    assert set(order(decision)[:2]) == {"google", "kimi"}
    assert order(decision)[2] == "zai"


def test_preference_score_feeds_the_score() -> None:
    liked = cand("openai", "a", profile=model("openai", id="gpt-4o-liked", preference_score=95))
    disliked = cand("openai", "b", profile=model("openai", id="gpt-4o-disliked", preference_score=5))
    decision = run([disliked, liked], prefs=NO_LISTS)
    assert decision.ranked[0].model == "gpt-4o-liked"
    assert decision.reason == "quality"
    assert decision.ranked[0].score.preference == 0.95


def test_a_list_entry_may_name_a_provider_and_model() -> None:
    mini = cand("openai", "o", profile=model("openai", id="gpt-4o-mini", quality={"coding": 60}))
    preferences = Preferences(task_preferences={"coding": ("openai/gpt-4o-mini", "openai")})
    decision = run([cand("openai"), mini], prefs=preferences, task_type="coding")
    assert decision.ranked[0].model == "gpt-4o-mini"
    assert decision.ranked[0].tiers.task_list == 0 and decision.ranked[1].tiers.task_list == 1


def test_list_entries_are_matched_through_provider_aliases() -> None:
    preferences = Preferences(task_preferences={"coding": ("moonshot", "openai")})
    decision = run([cand("openai"), cand("kimi")], prefs=preferences, task_type="coding")
    assert chosen(decision) == "kimi"


def test_each_score_reports_its_parts_and_they_sum_to_the_total() -> None:
    decision = run(everyone(), task_type="coding")
    for ranked in decision.ranked:
        score = ranked.score
        assert sum(score.contributions().values()) == pytest.approx(score.total)
        assert sum(score.weights.values()) == pytest.approx(1.0, abs=1e-3)
        for part in (score.quality, score.cost, score.headroom, score.latency, score.speed, score.preference):
            assert 0.0 <= part <= 1.0


def test_a_free_model_scores_full_cost_marks_without_dividing_by_zero() -> None:
    decision = run([cand("kimi")])
    assert decision.ranked[0].estimated_cost_usd == 0.0
    assert decision.ranked[0].score.cost == 1.0


def test_observed_latency_breaks_a_tie_between_equal_models() -> None:
    slow = cand("openai", "slow", profile=model("openai", id="a"), latency_p50_ms=9000)
    fast = cand("openai", "fast", profile=model("openai", id="b"), latency_p50_ms=300)
    decision = run([slow, fast], prefs=NO_LISTS, quality="max_speed")
    assert decision.ranked[0].account == "fast"
    assert decision.reason == "latency"


def test_an_uncatalogued_model_ranks_after_every_catalogued_one_however_it_scores() -> None:
    found = model("openai", id="listed-only", uncatalogued=True, preference_score=100, input_cost_per_1m=0.0)
    decision = run([cand("openai", "o", profile=found), *everyone(google_accounts=1)], task_type="coding")
    assert decision.ranked[-1].model == "listed-only"
    assert [r.provider for r in decision.ranked[:2]] == ["openai", "anthropic"]


def test_an_uncatalogued_model_serves_when_pinned_and_is_never_free_without_a_listed_price() -> None:
    found = model("openai", id="listed-only", uncatalogued=True, input_cost_per_1m=0.0, output_cost_per_1m=0.0)
    pinned = run([cand("openai", "o", profile=found), cand("openai")], task_type="coding", model="listed-only")
    assert pinned.ranked[0].model == "listed-only"
    free_only = run([cand("openai", "o", profile=found), cand("kimi")], prefs=Preferences(budget_mode="free_only"))
    assert [r.model for r in free_only.ranked] == [model("kimi").id]
    priced = found.model_copy(update={"free_tier": True})
    assert run([cand("openai", "o", profile=priced)], prefs=Preferences(budget_mode="free_only")).ranked
