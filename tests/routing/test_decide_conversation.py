"""Conversations stay on their provider unless it is safe or necessary to move, and come back after a failover."""

from __future__ import annotations

from typing import Any

import pytest

from routing.types import ConversationState, ManualSwitch
from tests.routing.seed import LATER, chosen, everyone, prefs, run


def conv(**kw: Any) -> ConversationState:
    fields: dict[str, Any] = {
        "id": "c1",
        "current_provider": "zai",
        "current_model": "glm-4.7",
        "preferred_provider": "zai",
        "preferred_model": "glm-4.7",
        "history_tokens": 20_000,
        "last_task_type": "coding",
    }
    fields.update(kw)
    return ConversationState(**fields)


def test_a_long_conversation_stays_on_its_provider_though_the_policy_prefers_another() -> None:
    decision = run(everyone(), conversation=conv(), task_type="coding", conversation_id="c1")
    assert chosen(decision) == "zai"
    assert decision.reason == "sticky"
    assert decision.switch is None
    assert decision.ranked[0].tiers.target == 0


def test_a_short_conversation_moves_freely_and_reports_the_switch() -> None:
    decision = run(everyone(), conversation=conv(history_tokens=1200), task_type="coding")
    assert chosen(decision) == "openai"
    assert decision.switch is not None
    assert (decision.switch.from_provider, decision.switch.to_provider, decision.switch.why) == (
        "zai",
        "openai",
        "small_history",
    )
    assert decision.switch.carry_history and not decision.switch.temporary


def test_the_switch_threshold_is_configurable() -> None:
    decision = run(everyone(), prefs=prefs(switch_threshold_tokens=50_000), conversation=conv(), task_type="coding")
    assert chosen(decision) == "openai"


# (id, zai's state, task fields, expected switch why, expected reason)
MUST_MOVE: list[tuple[str, dict[str, Any], dict[str, Any], str, str]] = [
    ("exhausted", {"exhausted_until": LATER}, {}, "limit", "limit"),
    ("rate limited", {"cooldown_until": LATER}, {}, "limit", "limit"),
    ("failing", {"breaker_open_until": LATER}, {}, "failing", "failover"),
    ("disabled", {"enabled": False}, {}, "unavailable", "failover"),
    ("outgrown the window", {}, {"estimated_input_tokens": 130_000}, "context", "context"),
]


@pytest.mark.parametrize(
    ("state", "task_kw", "why", "reason"), [c[1:] for c in MUST_MOVE], ids=[c[0] for c in MUST_MOVE]
)
def test_a_conversation_leaves_a_provider_that_cannot_serve(
    state: dict[str, Any], task_kw: dict[str, Any], why: str, reason: str
) -> None:
    decision = run(everyone(zai=state), conversation=conv(), task_type="coding", **task_kw)
    assert decision.chosen is not None and decision.chosen.provider != "zai"
    assert decision.switch is not None and decision.switch.why == why
    assert decision.switch.temporary == (why in ("limit", "failing", "unavailable"))
    assert decision.reason == reason


def test_a_conversation_comes_back_to_its_preferred_provider_once_it_recovers() -> None:
    after_failover = conv(current_provider="kimi", current_model="kimi-k2.6")
    still_down = run(everyone(zai={"exhausted_until": LATER}), conversation=after_failover, task_type="coding")
    assert chosen(still_down) == "kimi" and still_down.reason == "sticky"
    recovered = run(everyone(), conversation=after_failover, task_type="coding")
    assert chosen(recovered) == "zai"
    assert recovered.reason == "preference"
    assert recovered.switch is not None and recovered.switch.why == "recovered"


def test_a_user_pin_for_the_conversation_moves_it() -> None:
    decision = run(everyone(), conversation=conv(pin=ManualSwitch(provider="anthropic", conversation_id="c1")))
    assert chosen(decision) == "anthropic"
    assert decision.reason == "manual" and decision.confidence == 1.0
    assert decision.switch is not None and decision.switch.why == "manual"


def test_a_global_pin_applies_and_one_scoped_to_another_conversation_does_not() -> None:
    assert chosen(run(everyone(), manual=ManualSwitch(provider="kimi"))) == "kimi"
    other = ManualSwitch(provider="kimi", conversation_id="other")
    assert chosen(run(everyone(), manual=other, conversation_id="c1")) == "openai"


def test_the_calls_own_provider_beats_every_other_pin() -> None:
    decision = run(
        everyone(),
        conversation=conv(pin=ManualSwitch(provider="anthropic")),
        manual=ManualSwitch(provider="kimi"),
        provider="google",
    )
    assert decision.chosen is not None and decision.chosen.provider == "google"
    assert decision.reason == "manual"


def test_a_pin_naming_a_model_prefers_that_model() -> None:
    decision = run(everyone(), model="glm-4.7")
    assert chosen(decision) == "zai" and decision.reason == "manual"


@pytest.mark.parametrize(
    ("last", "task_kw", "moves"),
    [
        ("simple", {"task_type": "coding"}, True),
        ("coding", {"task_type": "creative"}, True),
        ("coding", {"task_type": "reasoning"}, False),
        ("simple", {"task_type": "coding", "task_type_inferred": True, "task_type_confidence": 0.3}, False),
        ("simple", {"task_type": "coding", "task_type_inferred": True, "task_type_confidence": 0.9}, True),
    ],
    ids=["simple to coding", "coding to creative", "coding to reasoning", "unsure inference", "sure inference"],
)
def test_a_significant_task_type_change_unsticks_a_conversation(
    last: str, task_kw: dict[str, Any], moves: bool
) -> None:
    decision = run(everyone(), conversation=conv(last_task_type=last), **task_kw)
    assert (decision.switch is not None) == moves
    if moves:
        assert decision.switch is not None and decision.switch.why == "task_type"


def test_preserve_context_false_starts_afresh_on_a_switch() -> None:
    decision = run(everyone(), prefs=prefs(preserve_context=False), conversation=conv(history_tokens=100))
    assert decision.switch is not None and not decision.switch.carry_history
