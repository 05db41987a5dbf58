"""Who won a decision and why (server/views/verdict.py), for every reason: the tier that put the winner ahead of the
next group with both positions, max_speed's prediction, the score part that led, a failed first choice, the filter
that removed the wanted provider."""

from __future__ import annotations

from typing import Any, get_args

from routing.types import Reason
from server.views import AttemptView, DecisionDetail
from server.views.verdict import MEANING, decided_by
from tests.clock import FixedClock

NOW = FixedClock()()
TIERS = {"target": 2, "quality_list": None, "cost_list": None, "context_window": None, "task_list": 0, "default": 1}
WEIGHTS = {"quality": 0.4, "cost": 0.3, "headroom": 0.1, "latency": 0.1, "speed": 0.05, "preference": 0.05}


def candidate(provider: str, *, total: float = 0.5, cost: float = 0.5, **tiers: Any) -> dict[str, Any]:
    score = {"quality": 0.5, "cost": cost, "headroom": 1.0, "latency": 0.5, "speed": 0.5, "preference": 0.5}
    return {"provider": provider, "model": f"{provider}-m", "account": provider, "tiers": TIERS | tiers,
            "score": score | {"weights": WEIGHTS, "total": total}, "predicted_ms": None, "deranked": False}  # fmt: skip


def attempt(provider: str, outcome: str = "success", error: str | None = None) -> AttemptView:
    return AttemptView(provider=provider, model=f"{provider}-m", account=provider, outcome=outcome, error_class=error,
                       latency_ms=10.0, started_at=NOW, usage={}, cost_usd=0.0)  # fmt: skip


def detail(reason: str | None, winner: str, candidates: list[dict[str, Any]], **extra: Any) -> DecisionDetail:
    fields: dict[str, Any] = {"id": 1, "created_at": NOW, "task_summary": "t", "task_type": "coding",
                              "provider": winner, "model": f"{winner}-m", "account": winner, "reason": reason,
                              "served": True, "failover": False, "cost_usd": 0.0, "candidates": candidates}  # fmt: skip
    return DecisionDetail(**(fields | extra))


def test_a_cost_first_decision_names_the_cost_list_and_both_positions_even_against_a_higher_score() -> None:
    ranked = [candidate("kimi", total=0.51, cost_list=0), candidate("google", total=0.90, cost_list=1)]
    lines = decided_by(detail("cost", "kimi", ranked))
    assert lines[0] == f"cost: {MEANING['cost']}"
    assert lines[-1] == (
        "decided by the cost_first list (qualityPreferences.cost_first): kimi/kimi-m is #1, google/google-m #2"
    )


def test_a_decision_by_the_score_names_the_part_with_the_largest_lead() -> None:
    ranked = [candidate("google", total=0.9, cost=1.0), candidate("zai", total=0.6, cost=0.2)]
    (_, line) = decided_by(detail("cost", "google", ranked))
    assert line == "decided by the score: google/google-m 0.900, zai/zai-m 0.600, led by cost (+0.240)"


def test_preference_lists_the_pin_and_max_speed_each_say_what_decided() -> None:
    listed = decided_by(detail("preference", "zai", [candidate("zai"), candidate("kimi", task_list=2)]))
    assert listed[-1] == "decided by the coding list (taskPreferences.coding): zai/zai-m is #1, kimi/kimi-m #3"
    pinned = decided_by(detail("manual", "zai", [candidate("zai", target=0), candidate("kimi")]))
    assert "pinned: every request goes to zai until `switch auto`" in pinned
    assert pinned[-1].startswith("decided by the pinned or conversation's provider comes first: zai/zai-m")
    fast, slow = candidate("kimi") | {"predicted_ms": 400.0}, candidate("zai") | {"predicted_ms": 2500.0}
    quick = decided_by(detail("latency", "kimi", [fast, slow], quality="max_speed"))
    assert quick[-1] == "decided by predicted completion (max_speed): kimi/kimi-m 0.4 s, zai/zai-m 2.5 s"


def test_a_failover_names_the_failed_first_choice_and_a_limit_the_filter_that_removed_the_wanted_one() -> None:
    ranked = [candidate("openai"), candidate("anthropic", task_list=1)]
    attempts = [attempt("openai", "failed", "rate_limited"), attempt("anthropic")]
    failed = decided_by(detail("failover", "anthropic", ranked, attempts=attempts, failover=True))
    assert "the first choice failed: openai/openai-m@openai (rate_limited); anthropic/anthropic-m@anthropic served" \
        " next" in failed  # fmt: skip
    exclusions = [{"provider": "zai", "model": "zai-m", "account": "zai", "filter": "quota", "detail": "0 left"}]
    limited = decided_by(detail("limit", "kimi", [candidate("kimi")], exclusions=exclusions))
    assert limited == [f"limit: {MEANING['limit']}", "removed before ranking: zai/zai-m@zai (quota: 0 left)",
                       "decided by elimination: kimi/kimi-m was the only candidate left"]  # fmt: skip


def test_a_cache_hit_and_a_refusal_say_so_without_a_ranking() -> None:
    assert decided_by(detail("cache", "zai", [])) == [f"cache: {MEANING['cache']}"]
    (refused,) = decided_by(detail(None, "zai", [], served=False))
    assert refused.startswith("no candidate could serve")


def test_every_reason_of_the_vocabulary_has_its_meaning() -> None:
    assert set(MEANING) == set(get_args(Reason))
