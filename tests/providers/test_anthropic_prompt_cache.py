"""Anthropic prompt caching: a long request's stable prefix carries `cache_control`; a short one is sent as before."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from pydantic import SecretStr

from providers.anthropic import AnthropicAdapter
from providers.anthropic_reply import map_usage
from providers.anthropic_request import build_body
from providers.models import ModelProfile
from providers.types import ChatRequest, Endpoint, Message, ToolCall, ToolSpec
from providers.vendors import WireOptions, vendor_for
from routing.cost import usage_cost_usd
from tests.clock import FIXED_NOW

MIN_TOKENS = 1024
CACHING = WireOptions(temperature_max=1.0, min_cache_tokens=MIN_TOKENS)
NOT_CACHING = WireOptions(temperature_max=1.0)
#: comfortably above MIN_TOKENS at four characters a token
LONG = "The repository's coding rules, one long paragraph. " * 120
EPHEMERAL = {"type": "ephemeral"}


def _body(*messages: Message, options: WireOptions = CACHING, **fields: Any) -> dict[str, Any]:
    return build_body(ChatRequest(model="claude-sonnet-4-5", messages=messages, **fields), options, stream=False)


def _breakpoints(value: Any) -> int:
    if isinstance(value, dict):
        return int("cache_control" in value) + sum(_breakpoints(item) for item in value.values())
    if isinstance(value, list):
        return sum(_breakpoints(item) for item in value)
    return 0


def test_a_long_system_prompt_is_sent_as_a_block_marked_for_caching() -> None:
    body = _body(Message(role="user", content="hi"), system=LONG)
    assert body["system"] == [{"type": "text", "text": LONG, "cache_control": EPHEMERAL}]
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]


def test_long_tools_without_a_system_prompt_mark_the_last_tool() -> None:
    tools = (ToolSpec(name="a", description=LONG), ToolSpec(name="b", description="short"))
    body = _body(Message(role="user", content="hi"), tools=tools)
    assert "system" not in body
    assert "cache_control" not in body["tools"][0]
    assert body["tools"][1]["cache_control"] == EPHEMERAL


def test_a_long_history_marks_the_last_turn_before_the_new_one() -> None:
    body = _body(
        Message(role="user", content=LONG),
        Message(role="assistant", content="Noted."),
        Message(role="user", content="Now fix the bug."),
        system="Be terse.",
    )
    assert body["system"] == "Be terse."
    first, prior, new = body["messages"]
    assert "cache_control" not in first["content"][-1]
    assert prior["content"] == [{"type": "text", "text": "Noted.", "cache_control": EPHEMERAL}]
    assert new["content"] == [{"type": "text", "text": "Now fix the bug."}]


def test_a_prior_turn_ending_in_a_tool_call_carries_the_mark_on_that_block() -> None:
    body = _body(
        Message(role="user", content=LONG),
        Message(role="assistant", content="", tool_calls=(ToolCall(id="t1", name="f"),)),
        Message(role="tool", content="42", tool_call_id="t1"),
    )
    assert body["messages"][1]["content"] == [
        {"type": "tool_use", "id": "t1", "name": "f", "input": {}, "cache_control": EPHEMERAL}
    ]
    assert _breakpoints(body["messages"][2]) == 0


def test_a_long_system_and_history_use_two_of_the_four_breakpoints() -> None:
    body = _body(
        Message(role="user", content=LONG),
        Message(role="assistant", content=LONG),
        Message(role="user", content=LONG),
        system=LONG,
        tools=(ToolSpec(name="a", description=LONG),),
    )
    assert _breakpoints(body) == 2
    assert body["system"][0]["cache_control"] == EPHEMERAL
    assert body["messages"][1]["content"][-1]["cache_control"] == EPHEMERAL


def test_a_short_request_is_sent_exactly_as_without_caching() -> None:
    messages = (
        Message(role="user", content="What is 2+2?"),
        Message(role="assistant", content="4"),
        Message(role="user", content="And 3+3?"),
    )
    fields: dict[str, Any] = {"system": "Be terse.", "tools": (ToolSpec(name="calc", description="adds"),)}
    assert _body(*messages, **fields) == _body(*messages, options=NOT_CACHING, **fields)
    assert _breakpoints(_body(*messages, **fields)) == 0


def test_a_single_long_user_turn_has_no_earlier_turn_to_mark() -> None:
    body = _body(Message(role="user", content=LONG))
    assert _breakpoints(body) == 0


def test_an_endpoint_without_a_cache_minimum_never_gets_marks() -> None:
    body = _body(Message(role="user", content=LONG), Message(role="user", content="x"), options=NOT_CACHING)
    assert _breakpoints(_body(Message(role="user", content=LONG), system=LONG, options=NOT_CACHING)) == 0
    assert _breakpoints(body) == 0


def test_the_cache_minimum_is_vendor_data_set_for_anthropic_only() -> None:
    anthropic, zai = vendor_for("anthropic"), vendor_for("zai")
    assert anthropic is not None and zai is not None
    assert anthropic.options.min_cache_tokens == MIN_TOKENS
    assert zai.options.min_cache_tokens is None


def test_a_reply_reporting_cache_reads_and_writes_is_costed_at_the_cache_prices() -> None:
    usage = map_usage(
        {"input_tokens": 3, "output_tokens": 10, "cache_read_input_tokens": 1111, "cache_creation_input_tokens": 418}
    )
    assert usage is not None
    model = ModelProfile(
        provider="anthropic",
        id="claude-sonnet-4-5",
        context_window=200_000,
        max_output_tokens=64_000,
        input_cost_per_1m=3.0,
        output_cost_per_1m=15.0,
        cache_read_cost_per_1m=0.3,
        cache_write_cost_per_1m=3.75,
    )
    expected = (3 * 3.0 + 1111 * 0.3 + 418 * 3.75 + 10 * 15.0) / 1_000_000
    assert usage_cost_usd(usage, model) == expected
    assert usage_cost_usd(usage, model) < (1532 * 3.0 + 10 * 15.0) / 1_000_000


@pytest.mark.anyio
async def test_the_anthropic_vendor_adapter_sends_the_marks_and_reads_back_the_cache_usage() -> None:
    sent: list[dict[str, Any]] = []
    reply = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": "ok"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 3, "output_tokens": 1, "cache_read_input_tokens": 1200},
    }

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(json.loads(request.content))
        return httpx2.Response(200, json=reply)

    vendor = vendor_for("anthropic")
    assert vendor is not None
    endpoint = Endpoint(provider="anthropic", account="a", base_url=vendor.base_url, api_key=SecretStr("k"))
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as client:
        adapter = AnthropicAdapter(client, endpoint, vendor.options, clock=lambda: FIXED_NOW)
        completion = await adapter.complete(
            ChatRequest(model="claude-sonnet-4-5", system=LONG, messages=(Message(role="user", content="hi"),))
        )
    assert sent[0]["system"][0]["cache_control"] == EPHEMERAL
    assert completion.usage is not None
    assert completion.usage.cache_read_tokens == 1200
