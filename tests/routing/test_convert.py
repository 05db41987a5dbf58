"""History conversion before a switch: thinking dropped, system hoisted, tool turns made consistent, re-counted."""

from __future__ import annotations

from collections.abc import Sequence

from providers.types import Message, ToolCall, WireKind
from routing.convert import CONTINUATION, Converted, convert_history


def count(messages: Sequence[Message], system: str | None) -> int:
    return sum(len(m.content) for m in messages) + len(system or "")


def convert(
    messages: list[Message], target: WireKind = "anthropic", system: str | None = None, window: int = 10_000
) -> Converted:
    return convert_history(messages, system, target=target, context_window=window, max_output_tokens=100, count=count)


def call(id: str, name: str = "search") -> ToolCall:
    return ToolCall(id=id, name=name, arguments='{"q": 1}')


def test_inline_thinking_is_dropped_from_assistant_turns() -> None:
    out = convert([Message(role="user", content="q"), Message(role="assistant", content="<think>hmm</think>Answer")])
    assert out.messages[1].content == "Answer"
    assert any("thinking" in change for change in out.changes)


def test_system_turns_move_into_the_system_prompt_for_anthropic_but_stay_for_openai() -> None:
    history = [Message(role="system", content="rules"), Message(role="user", content="hi")]
    anthropic = convert(history, "anthropic", system="base")
    assert anthropic.system == "base\n\nrules" and [m.role for m in anthropic.messages] == ["user"]
    openai = convert(history, "openai", system="base")
    assert openai.system == "base" and [m.role for m in openai.messages] == ["system", "user"]


def test_answered_tool_calls_are_kept_with_their_results_in_order() -> None:
    history = [
        Message(role="user", content="find"),
        Message(role="assistant", tool_calls=(call("a"), call("b", "fetch"))),
        Message(role="tool", tool_call_id="b", content="B"),
        Message(role="tool", tool_call_id="a", content="A"),
    ]
    out = convert(history)
    assert [c.id for c in out.messages[1].tool_calls] == ["a", "b"]
    assert [(m.role, m.tool_call_id, m.content) for m in out.messages[2:]] == [("tool", "a", "A"), ("tool", "b", "B")]
    assert out.changes == ()


def test_an_orphaned_tool_result_becomes_plain_text() -> None:
    history = [Message(role="user", content="q"), Message(role="tool", tool_call_id="zz", name="search", content="R")]
    out = convert(history, "openai")
    assert out.messages[1].role == "user" and "[result of tool search]" in out.messages[1].content


def test_an_unanswered_tool_call_becomes_text_on_its_assistant_turn() -> None:
    history = [
        Message(role="user", content="q"),
        Message(role="assistant", content="Let me look.", tool_calls=(call("a"),)),
    ]
    out = convert(history, "openai")
    assert out.messages[1].tool_calls == ()
    assert "[called tool search" in out.messages[1].content


def test_empty_call_ids_are_matched_by_name_and_given_synthetic_ids() -> None:
    history = [
        Message(role="user", content="q"),
        Message(role="assistant", tool_calls=(ToolCall(id="", name="search"),)),
        Message(role="tool", tool_call_id=None, name="search", content="R"),
    ]
    out = convert(history, "anthropic")
    assert out.messages[1].tool_calls[0].id == "call_1"
    assert out.messages[2].tool_call_id == "call_1"


def test_anthropic_histories_start_with_a_user_turn_and_alternate() -> None:
    history = [
        Message(role="assistant", content="Hello"),
        Message(role="user", content="a"),
        Message(role="user", content="b"),
    ]
    out = convert(history, "anthropic")
    assert [m.role for m in out.messages] == ["user", "assistant", "user"]
    assert out.messages[0].content == CONTINUATION and out.messages[2].content == "a\n\nb"


def test_the_converted_history_is_recounted_and_checked_against_the_new_window() -> None:
    history = [Message(role="user", content="x" * 950)]
    assert convert(history, window=1100).fits
    too_small = convert(history, window=1000)
    assert not too_small.fits and too_small.input_tokens == 950
