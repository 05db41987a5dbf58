"""reason and confidence follow SCORING.md; decisions serialise to JSON and back."""

from __future__ import annotations

from routing.preferences import Preferences
from routing.types import decision_from_json, decision_to_dict, decision_to_json
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
