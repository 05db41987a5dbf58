"""reason and confidence follow the README's "How routing decides"; decisions serialise to JSON and back."""

from __future__ import annotations

from routing.preferences import Preferences
from routing.types import Classification, QuotaWindow, decision_from_json, decision_to_dict, decision_to_json
from tests.routing.seed import LATER, cand, everyone, model, prefs, run


def test_a_decision_made_by_a_list_for_a_given_task_type_is_fully_confident() -> None:
    decision = run(everyone(), task_type="coding")
    assert (decision.reason, decision.confidence) == ("preference", 1.0)


def test_an_inferred_task_type_lowers_confidence_by_the_classifiers_doubt() -> None:
    decision = run(everyone(), task_type="coding", task_type_inferred=True, task_type_confidence=0.4)
    assert decision.confidence == 0.7


def test_a_close_score_gives_a_confidence_near_one_half() -> None:
    twin = cand("zai", "twin", profile=model("zai", id="glm-twin", speed=56))
    decision = run([cand("zai"), twin], prefs=Preferences())
    assert 0.5 <= decision.confidence < 0.55


def test_max_cost_excluding_the_favourite_reports_cost() -> None:
    decision = run(everyone(), task_type="coding", max_cost_usd=0.001)
    assert decision.chosen is not None and decision.chosen.provider == "kimi"
    assert decision.reason == "cost"


def test_free_only_excluding_the_favourite_reports_cost() -> None:
    decision = run(everyone(), prefs=prefs(budget_mode="free_only"), task_type="coding")
    assert decision.chosen is not None and decision.chosen.provider == "kimi"
    assert decision.reason == "cost"


def test_a_window_excluding_the_favourite_reports_context() -> None:
    decision = run(everyone(), task_type="coding", estimated_input_tokens=126_000)
    assert decision.chosen is not None and decision.chosen.provider == "anthropic"
    assert decision.reason == "context"


def test_a_failing_favourite_reports_failover() -> None:
    decision = run(everyone(openai={"breaker_open_until": LATER}), task_type="coding")
    assert decision.reason == "failover"


def test_the_explanation_names_the_task_type_the_exclusions_and_the_choice() -> None:
    decision = run(everyone(openai={"cooldown_until": LATER}), task_type="coding")
    text = "\n".join(decision.explanation)
    assert "task type coding" in text and "1 cooldown" in text and "chose anthropic" in text


def test_a_decision_round_trips_through_json() -> None:
    decision = run(everyone(kimi={"exhausted_until": LATER}), task_type="coding")
    assert decision_from_json(decision_to_json(decision)) == decision
    data = decision_to_dict(decision)
    assert data["chosen"]["provider"] == "openai"
    assert data["excluded"][0]["filter"] == "quota"
    assert set(data["ranked"][0]["score"]) >= {"quality", "cost", "headroom", "latency", "total", "weights"}


def test_an_inferred_task_type_is_explained_with_the_classifiers_features() -> None:
    classification = Classification(task_type="coding", confidence=0.8, features=("code fence", "source file"))
    decision = run(
        everyone(), task_type="coding", task_type_inferred=True, task_type_confidence=0.8, classification=classification
    )
    assert "code fence, source file" in decision.explanation[0]


def test_a_quota_window_exclusion_says_when_it_resets() -> None:
    full = QuotaWindow(kind="requests", period="day", limit=20, remaining=0, resets_at=LATER)
    decision = run([cand("kimi", windows=(full,)), cand("zai")])
    assert decision.excluded[0].detail == f"requests per day: 0 of 20 left (resets {LATER.isoformat()})"


def test_a_pools_observed_latency_is_its_accounts_mean() -> None:
    accounts = [cand("zai", f"z{i}", pool_index=i, pool_size=2, latency_p50_ms=ms) for i, ms in ((0, 1000), (1, 3000))]
    decision = run(accounts)
    assert decision.ranked[0].score.latency == 0.5


def test_nothing_may_be_tried_when_nothing_was_chosen() -> None:
    decision = run(everyone(), prefs=prefs(auto_switch=False), provider="nowhere")
    assert decision.ranked and not decision.may_try(decision.ranked[0], after_limit=False)
