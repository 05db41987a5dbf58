"""Every filter of decide(), table-driven: the candidate it removes is reported under that filter, with a detail."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.routing.seed import EARLIER, LATER, cand, chosen, excluded_by, model, prefs, run, window

# (id, candidate under test, task fields, preferences changes, expected filter)
CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any], str]] = [
    ("disabled", {"enabled": False, "disabled_reason": "401 on 2026-11-27"}, {}, {}, "disabled"),
    ("no key", {"has_key": False}, {}, {}, "no_key"),
    ("retired by catalogue date", {"profile": model("openai", retired_on=date(2026, 10, 1))}, {}, {}, "retired"),
    ("retired after a 404", {"model_retired": True}, {}, {}, "retired"),
    (
        "missing vision",
        {"profile": model("openai", capabilities=frozenset({"tools"}))},
        {"needs": {"vision"}},
        {},
        "capability",
    ),
    ("paid under free_only", {}, {}, {"budget_mode": "free_only"}, "budget_mode"),
    ("paid under a free_only call", {}, {"budget_mode": "free_only"}, {}, "budget_mode"),
    ("input + output beyond window", {}, {"estimated_input_tokens": 125_000}, {}, "context"),
    (
        "max output counts toward window",
        {},
        {"estimated_input_tokens": 115_000, "max_output_tokens": 16_000},
        {},
        "context",
    ),
    (
        "images count toward the window by the wire's rule",
        {},
        {"image_tokens": {"openai": 125_000, "gemini": 258}},
        {},
        "context",
    ),
    ("worst case above max_cost_usd", {}, {"max_cost_usd": 0.0001}, {}, "max_cost"),
    ("exhausted until the reset", {"exhausted_until": LATER}, {}, {}, "quota"),
    ("requests window at zero", {"windows": (window("requests", "day", 20, 0),)}, {}, {}, "quota"),
    ("tokens window below the input", {"windows": (window("tokens", "minute", 250_000, 500),)}, {}, {}, "quota"),
    ("spend budget below worst case", {"budget_left_usd": 0.00001}, {}, {}, "quota"),
    ("rate limited", {"cooldown_until": LATER}, {}, {}, "cooldown"),
    ("circuit open", {"breaker_open_until": LATER}, {}, {}, "unhealthy"),
]


@pytest.mark.parametrize(
    ("fields", "task_kw", "pref_kw", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_filter_excludes_the_candidate_and_names_itself(
    fields: dict[str, Any], task_kw: dict[str, Any], pref_kw: dict[str, Any], expected: str
) -> None:
    decision = run([cand("openai", **fields), cand("google", "google-1")], prefs=prefs(**pref_kw), **task_kw)
    assert excluded_by(decision) == {"openai": expected}
    assert decision.excluded[0].detail
    assert chosen(decision) == "google@google-1"


@pytest.mark.parametrize(
    "fields",
    [{"exhausted_until": EARLIER}, {"cooldown_until": EARLIER}, {"breaker_open_until": EARLIER}],
    ids=["exhausted", "cooldown", "breaker"],
)
def test_a_state_that_has_expired_no_longer_excludes(fields: dict[str, Any]) -> None:
    decision = run([cand("openai", **fields), cand("kimi")])
    assert decision.excluded == ()
    assert chosen(decision) == "openai"


def test_a_candidate_failing_several_filters_is_reported_under_the_first_in_order() -> None:
    decision = run([cand("openai", enabled=False, cooldown_until=LATER, exhausted_until=LATER), cand("kimi")])
    assert excluded_by(decision) == {"openai": "disabled"}


def test_the_context_check_applies_the_providers_tokenizer_margin() -> None:
    # 150k o200k tokens fit Anthropic's 200k window by o200k's count, not by Anthropic's tokenizer (x1.35)
    decision = run([cand("anthropic"), cand("google", "google-1")], estimated_input_tokens=150_000)
    assert excluded_by(decision) == {"anthropic": "context"}
    assert decision.ranked[0].input_tokens == 172_500  # google's margin 1.15


def test_the_output_budget_is_clamped_to_the_models_maximum() -> None:
    decision = run([cand("zai")], max_output_tokens=100_000)
    assert decision.ranked[0].output_tokens == 8192


def test_a_caller_priced_cost_is_used_for_max_cost() -> None:
    decision = run([cand("openai", estimated_cost_usd=0.5), cand("kimi")], max_cost_usd=0.1)
    assert excluded_by(decision) == {"openai": "max_cost"}


def test_free_only_never_falls_back_to_a_paid_model_even_when_every_free_one_is_gone() -> None:
    decision = run(
        [
            cand("kimi", exhausted_until=LATER),
            cand("google", "google-1", cooldown_until=LATER),
            cand("openai"),
            cand("zai"),
        ],
        prefs=prefs(budget_mode="free_only"),
    )
    assert decision.chosen is None
    assert decision.ranked == ()
    assert decision.error is not None and decision.error.kind == "no_candidate"
    assert excluded_by(decision) == {
        "kimi": "quota",
        "google-1": "cooldown",
        "openai": "budget_mode",
        "zai": "budget_mode",
    }


def test_an_account_marked_paid_is_not_free_even_for_a_free_tier_model() -> None:
    decision = run([cand("google", "google-paid", free_tier=False)], prefs=prefs(budget_mode="free_only"))
    assert excluded_by(decision) == {"google-paid": "budget_mode"}


def test_no_candidates_at_all_is_an_error_naming_setup() -> None:
    decision = run([])
    assert decision.chosen is None and decision.error is not None
    assert "setup" in decision.error.message
