"""autoSwitch and switchOnLimit mean what they say: as data in the Decision, and as errors when they forbid moving."""

from __future__ import annotations

from typing import Any

import pytest

from routing.types import ConversationState, ManualSwitch
from tests.routing.seed import LATER, chosen, everyone, pool, prefs, run

NO_AUTO = prefs(auto_switch=False)
NO_LIMIT_SWITCH = prefs(switch_on_limit=False)


# (id, preferences, state of the intended provider, call fields, expected error kind or None, expected chosen, reason)
CASES: list[tuple[str, Any, dict[str, Any], dict[str, Any], str | None, str | None, str | None]] = [
    (
        "pinned and cooling, no autoSwitch",
        NO_AUTO,
        {"kimi": {"cooldown_until": LATER}},
        {"provider": "kimi"},
        "limit",
        None,
        None,
    ),
    (
        "pinned and failing, no autoSwitch",
        NO_AUTO,
        {"kimi": {"breaker_open_until": LATER}},
        {"provider": "kimi"},
        "unavailable",
        None,
        None,
    ),
    (
        "pinned without key, no autoSwitch",
        NO_AUTO,
        {"kimi": {"has_key": False}},
        {"provider": "kimi"},
        "unavailable",
        None,
        None,
    ),
    (
        "pinned and failing, autoSwitch",
        prefs(),
        {"kimi": {"breaker_open_until": LATER}},
        {"provider": "kimi"},
        None,
        "openai",
        "failover",
    ),
    (
        "pinned and exhausted, autoSwitch",
        prefs(),
        {"kimi": {"exhausted_until": LATER}},
        {"provider": "kimi"},
        None,
        "openai",
        "limit",
    ),
    (
        "pinned too small, autoSwitch",
        prefs(),
        {},
        {"provider": "zai", "estimated_input_tokens": 130_000},
        None,
        "anthropic",
        "context",
    ),
    (
        "pinned and exhausted, no switchOnLimit",
        NO_LIMIT_SWITCH,
        {"kimi": {"exhausted_until": LATER}},
        {"provider": "kimi"},
        "limit",
        None,
        None,
    ),
    (
        "top choice failing, no autoSwitch",
        NO_AUTO,
        {"openai": {"breaker_open_until": LATER}},
        {},
        "unavailable",
        None,
        None,
    ),
    (
        "top choice exhausted, no switchOnLimit",
        NO_LIMIT_SWITCH,
        {"openai": {"exhausted_until": LATER}},
        {},
        "limit",
        None,
        None,
    ),
    (
        "top choice failing, no switchOnLimit",
        NO_LIMIT_SWITCH,
        {"openai": {"breaker_open_until": LATER}},
        {},
        None,
        "anthropic",
        "failover",
    ),
    ("top choice exhausted, both on", prefs(), {"openai": {"exhausted_until": LATER}}, {}, None, "anthropic", "limit"),
]


@pytest.mark.parametrize(
    ("preferences", "states", "call", "error", "winner", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_switch_preferences_decide_between_an_error_and_a_failover(
    preferences: Any,
    states: dict[str, Any],
    call: dict[str, Any],
    error: str | None,
    winner: str | None,
    reason: str | None,
) -> None:
    decision = run(everyone(**states), prefs=preferences, task_type="coding", **call)
    assert (decision.error.kind if decision.error else None) == error
    assert chosen(decision) == winner
    assert decision.reason == reason
    if error is not None:
        assert decision.error is not None and decision.error.message and decision.confidence == 0.0


def test_without_auto_switch_the_router_may_not_fail_over_to_another_provider() -> None:
    decision = run(everyone(), prefs=NO_AUTO, task_type="simple")
    assert not decision.failover_on_error and not decision.failover_on_limit
    google_2 = next(r for r in decision.ranked if r.account == "google-2")
    other = next(r for r in decision.ranked if r.provider != "google")
    assert decision.may_try(google_2, after_limit=True)
    assert not decision.may_try(other, after_limit=False)


def test_without_switch_on_limit_only_errors_that_are_not_limits_fail_over() -> None:
    decision = run(everyone(), prefs=NO_LIMIT_SWITCH)
    assert decision.failover_on_error and not decision.failover_on_limit
    other = next(r for r in decision.ranked if r.provider != decision.ranked[0].provider)
    assert decision.may_try(other, after_limit=False)
    assert not decision.may_try(other, after_limit=True)


def test_without_switch_on_limit_a_pool_still_rotates_past_an_exhausted_account() -> None:
    decision = run(pool("google", 3, per={"google-1": {"exhausted_until": LATER}}), prefs=NO_LIMIT_SWITCH)
    assert chosen(decision) == "google@google-2"


def test_without_auto_switch_a_conversation_whose_provider_fails_gets_an_error() -> None:
    conversation = ConversationState(id="c", current_provider="zai", preferred_provider="zai", history_tokens=9000)
    decision = run(everyone(zai={"breaker_open_until": LATER}), prefs=NO_AUTO, conversation=conversation)
    assert decision.chosen is None
    assert decision.error is not None and decision.error.provider == "zai"


def test_a_global_pin_that_cannot_serve_without_auto_switch_names_the_fix() -> None:
    decision = run(everyone(kimi={"has_key": False}), prefs=NO_AUTO, manual=ManualSwitch(provider="kimi"))
    assert decision.error is not None
    assert "switch_provider" in decision.error.message


def test_a_pin_on_an_unknown_provider_fails_over_with_auto_switch_and_errors_without() -> None:
    assert run(everyone(), provider="nowhere").reason == "failover"
    decision = run(everyone(), prefs=NO_AUTO, provider="nowhere")
    assert decision.error is not None and decision.error.kind == "unavailable"
