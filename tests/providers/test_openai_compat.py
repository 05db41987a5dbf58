"""The OpenAI Chat Completions adapter against real recordings of every vendor on that wire, plus crafted streams."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx2
import pytest
from pydantic import SecretStr

from providers.errors import (
    AuthFailed,
    ContextTooLong,
    InvalidRequest,
    ModelNotFound,
    Overloaded,
    ProviderError,
    ProviderHTTPError,
    ProviderTransportError,
    QuotaExhausted,
    RateLimited,
    ServerError,
)
from providers.openai_compat import OpenAICompatAdapter
from providers.openai_errors import classify_error
from providers.openai_reply import map_usage, parse_response
from providers.openai_request import build_body
from providers.openai_stream import parse_chunk
from providers.ratelimits import parse_openai_limits
from providers.types import (
    ChatRequest,
    Completion,
    Endpoint,
    ImagePart,
    Message,
    ReasoningDelta,
    StreamDone,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolSpec,
    Usage,
)
from providers.vendors import VENDORS, WireOptions
from tests.cassettes import CASSETTES, Interaction, Replay, load_cassette
from tests.clock import FixedClock

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
KEY = "sk-test-0123456789abcdef"
ENDPOINT = Endpoint(
    provider="openai", account="acct-1", base_url="https://api.example.test/v1/", api_key=SecretStr(KEY)
)
HELLO = ChatRequest(model="m", messages=(Message(role="user", content="hi"),))

pytestmark = pytest.mark.anyio


def _adapter(client: httpx2.AsyncClient, endpoint: Endpoint = ENDPOINT) -> OpenAICompatAdapter:
    return OpenAICompatAdapter(client, endpoint, clock=lambda: NOW)


async def _collect(adapter: OpenAICompatAdapter, request: ChatRequest = HELLO) -> list[StreamEvent]:
    with anyio.fail_after(5):
        return [event async for event in adapter.stream(request)]


def _done(events: list[StreamEvent]) -> Completion:
    assert isinstance(events[-1], StreamDone)
    assert not any(isinstance(event, StreamDone) for event in events[:-1])
    return events[-1].completion


# ------------------------------------------------------------------ every recorded cassette


@dataclass(frozen=True)
class Expect:
    """What one recorded interaction must come out as."""

    text: str | None = None  # exact text, or a prefix when `prefix` is set
    prefix: bool = False
    tools: tuple[str, ...] = ()
    usage: Usage | None = None
    finish: str = "stop"
    raises: type[ProviderHTTPError] | None = None
    reasoning: bool = False
    cost: float | None = None


def _u(inp: int, out: int, *, read: int = 0, write: int = 0, reasoning: int = 0) -> Usage:
    return Usage(
        input_tokens=inp,
        output_tokens=out,
        cache_read_tokens=read,
        cache_write_tokens=write,
        reasoning_tokens=reasoning,
    )


EXPECTED: dict[str, list[Expect]] = {
    "openai/test_openai_chat_prompt_cache_e2e.yaml": [
        Expect("OK", usage=_u(4020, 4, write=4012)),
        Expect("OK", usage=_u(4020, 4, read=4012)),
    ],
    "openai/test_openai_o1_mini_system_role[system].yaml": [Expect(raises=InvalidRequest)],
    "openai/test_openai_tool_output.yaml": [
        Expect("", tools=("get_user_country",), usage=_u(68, 12), finish="tool_calls"),
        Expect("", tools=("final_result",), usage=_u(89, 36), finish="tool_calls"),
    ],
    "openai/test_openai_web_search_tool_model_not_supported.yaml": [Expect(raises=InvalidRequest)],
    "openai/test_run_stream_sync_streams_real_model.yaml": [
        Expect("", tools=("get_capital",), usage=_u(53, 15), finish="tool_calls"),
        Expect("The capital of the UK is London.", usage=_u(78, 9)),
    ],
    "openai/test_tool_use_chain_of_two_calls.yaml": [
        Expect("", tools=("lookup_population",), usage=_u(92, 17), finish="tool_calls"),
        Expect("", tools=("can_have_dragons",), usage=_u(118, 18), finish="tool_calls"),
        Expect("YES", usage=_u(146, 3)),
    ],
    "openai_compatible/test_deepseek_model_thinking_part.yaml": [
        Expect("Crossing the street safely", prefix=True, usage=_u(12, 789, reasoning=415), reasoning=True),
    ],
    "openai_compatible/test_openrouter_errors_raised.yaml": [Expect(raises=RateLimited)] * 3,
    "openai_compatible/test_tool_use_failed_error.yaml": [
        Expect(raises=InvalidRequest),
        Expect(
            "", tools=("get_something_by_name",), usage=_u(301, 52, reasoning=22), finish="tool_calls", reasoning=True
        ),
        Expect("The first call failed", prefix=True, usage=_u(336, 96, read=256, reasoning=59), reasoning=True),
    ],
    "openai_compatible/test_tools_streaming_variant_a.yaml": [
        # this upstream (Novita via OpenRouter) never sends a finish_reason, only [DONE]
        Expect("", tools=("llm_version",), usage=_u(57, 17), finish="tool_calls", cost=0.00007159),
        Expect("The current version of *llm* is **0.fixed-version**.", usage=_u(107, 15), cost=0.0001017),
    ],
    "openai_compatible/test_zai_model_simple.yaml": [
        Expect("2 + 2 is 4.", usage=_u(13, 437, reasoning=427), reasoning=True),
    ],
    "openai_compatible/test_zai_thinking_stream.yaml": [
        Expect("4", usage=_u(13, 564, reasoning=561), reasoning=True),
    ],
    # Gemini's OpenAI endpoint: tool ids are "", and thinking is in total_tokens only (35 + 12 + 62 = 109)
    "gemini/test_compatible_api_with_tool_calls_without_id.yaml": [
        Expect("", tools=("get_current_time",), usage=_u(35, 74, reasoning=62), finish="tool_calls"),
        Expect("The current time is Noon.", usage=_u(66, 34, reasoning=28)),
    ],
}


def _replayed_paths() -> list[str]:
    paths = sorted(CASSETTES.glob("openai/*.yaml")) + sorted(CASSETTES.glob("openai_compatible/*.yaml"))
    paths.append(CASSETTES / "gemini" / "test_compatible_api_with_tool_calls_without_id.yaml")
    return [str(path.relative_to(CASSETTES)) for path in paths]


def _request_like(interaction: Interaction) -> ChatRequest:
    model = interaction.request_body.get("model", "m") if isinstance(interaction.request_body, dict) else "m"
    return ChatRequest(model=model, messages=(Message(role="user", content="hello"),))


async def _run(adapter: OpenAICompatAdapter, interaction: Interaction) -> Completion:
    request = _request_like(interaction)
    if not interaction.is_stream:
        with anyio.fail_after(5):
            return await adapter.complete(request)
    events = await _collect(adapter, request)
    completion = _done(events)
    # the deltas carry everything the final completion says
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == completion.text
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == (completion.reasoning or "")
    assert [e.name for e in events if isinstance(e, ToolCallDelta) and e.name] == [
        c.name for c in completion.tool_calls
    ]
    return completion


@pytest.mark.parametrize("name", _replayed_paths())
async def test_every_recorded_interaction_replays_to_a_completion_or_a_classified_error(name: str) -> None:
    replay = Replay(load_cassette(CASSETTES / name))
    async with replay.client() as client:
        adapter = _adapter(client)
        for interaction in replay.interactions:
            try:
                completion = await _run(adapter, interaction)
            except ProviderHTTPError as error:
                assert error.status_code == interaction.status
            else:
                assert interaction.status == 200
                assert completion.finish_reason in ("stop", "tool_calls", "length")
    assert len(replay.sent) == len(replay.interactions)


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_recorded_interactions_yield_the_recorded_text_tools_usage_and_finish_reason(name: str) -> None:
    replay = Replay(load_cassette(CASSETTES / name))
    expectations = EXPECTED[name]
    assert len(expectations) == len(replay.interactions)
    async with replay.client() as client:
        adapter = _adapter(client)
        for interaction, expect in zip(replay.interactions, expectations, strict=True):
            if expect.raises is not None:
                with pytest.raises(expect.raises):
                    await _run(adapter, interaction)
                continue
            completion = await _run(adapter, interaction)
            assert expect.text is not None
            if expect.prefix:
                assert completion.text.startswith(expect.text)
            else:
                assert completion.text == expect.text
            assert tuple(call.name for call in completion.tool_calls) == expect.tools
            assert all(call.id for call in completion.tool_calls)
            assert all(isinstance(json.loads(call.arguments), dict) for call in completion.tool_calls)
            assert completion.usage == expect.usage
            assert completion.finish_reason == expect.finish
            assert bool(completion.reasoning) == expect.reasoning
            assert completion.reported_cost_usd == expect.cost


async def test_a_stream_tool_call_assembles_its_argument_fragments() -> None:
    replay = Replay(load_cassette(CASSETTES / "openai/test_run_stream_sync_streams_real_model.yaml"))
    async with replay.client() as client:
        events = await _collect(_adapter(client))
    completion = _done(events)
    assert completion.tool_calls == (
        ToolCall(id="call_ZR5UUuTt3pf61kjwAJIYdVMj", name="get_capital", arguments='{"country":"UK"}'),
    )
    assert completion.raw_finish_reason == "tool_calls"
    assert completion.model == "gpt-4o-mini-2024-07-18"


async def test_repeated_tool_call_ids_and_names_are_announced_once() -> None:
    replay = Replay(load_cassette(CASSETTES / "openai_compatible/test_tools_streaming_variant_a.yaml"))
    async with replay.client() as client:
        events = await _collect(_adapter(client))
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert [(d.index, d.id, d.name) for d in deltas] == [(0, "0", "llm_version"), (0, None, None)]
    assert _done(events).tool_calls == (ToolCall(id="0", name="llm_version", arguments="{}"),)
    assert _done(events).raw_finish_reason is None


async def test_tool_call_fragments_without_an_index_are_told_apart_by_their_id() -> None:
    whole = {"id": "a", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
    other = {"id": "b", "type": "function", "function": {"name": "g", "arguments": "{"}}
    tail = {"function": {"arguments": "}"}}
    body = _sse(_chunk(tool_calls=[whole]), _chunk(tool_calls=[other]), _chunk(tool_calls=[tail], finish="tool_calls"))
    async with _client(body) as client:
        completion = _done(await _collect(_adapter(client)))
    assert completion.tool_calls == (
        ToolCall(id="a", name="f", arguments='{"x": 1}'),
        ToolCall(id="b", name="g", arguments="{}"),
    )


async def test_completion_rate_limits_come_from_the_response_headers() -> None:
    replay = Replay(load_cassette(CASSETTES / "openai/test_tool_use_chain_of_two_calls.yaml"))
    async with replay.client() as client:
        completion = await _adapter(client).complete(HELLO)
    limits = completion.rate_limits
    assert (limits.requests_limit, limits.requests_remaining) == (30000, 29999)
    assert (limits.tokens_limit, limits.tokens_remaining) == (150000000, 149999981)
    assert limits.requests_reset_at == NOW + timedelta(milliseconds=2)
    assert limits.tokens_reset_at == NOW


async def test_gemini_tool_calls_without_an_id_get_one() -> None:
    replay = Replay(load_cassette(CASSETTES / "gemini/test_compatible_api_with_tool_calls_without_id.yaml"))
    async with replay.client() as client:
        first = await _adapter(client).complete(HELLO)
    assert first.tool_calls[0].id.startswith("call_") and len(first.tool_calls[0].id) > 10


# ------------------------------------------------------------------ the request we send


def _tool_turn_request() -> ChatRequest:
    call = ToolCall(id="call_iXFttys57ap0o16JSlC8yhYo", name="get_user_country", arguments="{}")
    return ChatRequest(
        model="gpt-4o",
        messages=(
            Message(role="user", content="What is the largest city in the user country?"),
            Message(role="assistant", tool_calls=(call,)),
            Message(role="tool", content="Mexico", tool_call_id=call.id),
        ),
        tools=(
            ToolSpec(
                name="get_user_country",
                parameters={"additionalProperties": False, "properties": {}, "type": "object"},
            ),
            ToolSpec(
                name="final_result",
                description="The final response which ends this conversation",
                parameters={
                    "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
                    "required": ["city", "country"],
                    "type": "object",
                },
            ),
        ),
    )


async def test_a_tool_result_turn_is_sent_as_openai_recorded_it() -> None:
    interactions = load_cassette(CASSETTES / "openai/test_openai_tool_output.yaml")
    replay = Replay(interactions[1:])
    async with replay.client() as client:
        await _adapter(client).complete(_tool_turn_request())
    sent = replay.sent_json()
    recorded = interactions[1].request_body
    assert sent["messages"] == recorded["messages"]
    assert sent["tools"] == recorded["tools"]
    assert sent["model"] == "gpt-4o" and sent["stream"] is False


async def test_requests_go_to_chat_completions_with_the_bearer_key_and_extra_headers() -> None:
    endpoint = ENDPOINT.model_copy(update={"extra_headers": {"HTTP-Referer": "https://router.test"}})
    replay = Replay(load_cassette(CASSETTES / "openai/test_openai_chat_prompt_cache_e2e.yaml"))
    async with replay.client() as client:
        await _adapter(client, endpoint).complete(HELLO)
    request = replay.sent[0]
    assert str(request.url) == "https://api.example.test/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["http-referer"] == "https://router.test"


async def test_a_keyless_endpoint_sends_no_authorization_header() -> None:
    endpoint = Endpoint(provider="ollama", account="local", base_url="http://localhost:11434/v1")
    replay = Replay(load_cassette(CASSETTES / "openai/test_openai_chat_prompt_cache_e2e.yaml"))
    async with replay.client() as client:
        await _adapter(client, endpoint).complete(HELLO)
    assert "authorization" not in replay.sent[0].headers
    assert str(replay.sent[0].url) == "http://localhost:11434/v1/chat/completions"


async def test_a_stream_asks_for_usage_in_the_body_it_sends() -> None:
    replay = Replay(load_cassette(CASSETTES / "openai/test_run_stream_sync_streams_real_model.yaml"))
    async with replay.client() as client:
        await _collect(_adapter(client))
    sent = replay.sent_json()
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}


ZAI = VENDORS["zai"].options
OPENAI = VENDORS["openai"].options


@pytest.mark.parametrize(
    ("request_", "options", "stream", "expected"),
    [
        (HELLO, WireOptions(), False, {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": False}),
        (
            HELLO.model_copy(update={"system": "be brief"}),
            WireOptions(),
            False,
            {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]},
        ),
        (HELLO.model_copy(update={"max_output_tokens": 50}), OPENAI, False, {"max_completion_tokens": 50}),
        (HELLO.model_copy(update={"max_output_tokens": 50}), ZAI, False, {"max_tokens": 50}),
        (HELLO.model_copy(update={"temperature": 0.0}), ZAI, False, {"temperature": 0.01}),
        (HELLO.model_copy(update={"temperature": 1.7}), ZAI, False, {"temperature": 1.0}),
        (HELLO.model_copy(update={"temperature": 1.7}), OPENAI, False, {"temperature": 1.7}),
        (HELLO.model_copy(update={"stop": ("END",)}), OPENAI, False, {"stop": ["END"]}),
        (HELLO.model_copy(update={"json_output": True}), OPENAI, False, {"response_format": {"type": "json_object"}}),
        (HELLO, OPENAI, True, {"stream": True, "stream_options": {"include_usage": True}}),
        (HELLO, WireOptions(stream_usage=False), True, {"stream": True}),
        (
            HELLO.model_copy(update={"tools": (ToolSpec(name="f", description="d"),)}),
            OPENAI,
            False,
            {
                "tools": [
                    {
                        "type": "function",
                        "function": {
                            "name": "f",
                            "description": "d",
                            "parameters": {"type": "object", "properties": {}},
                        },
                    }
                ]
            },
        ),
        (
            HELLO.model_copy(
                update={
                    "messages": (
                        Message(role="assistant", content="let me look", tool_calls=(ToolCall(id="c1", name="f"),)),
                        Message(role="tool", content="42", tool_call_id="c1", name="f"),
                    )
                }
            ),
            OPENAI,
            False,
            {
                "messages": [
                    {
                        "role": "assistant",
                        "content": "let me look",
                        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
                    },
                    {"role": "tool", "tool_call_id": "c1", "content": "42"},
                ]
            },
        ),
    ],
)
def test_build_body_translates_each_request_field(
    request_: ChatRequest, options: WireOptions, stream: bool, expected: dict[str, Any]
) -> None:
    body = build_body(request_, options, stream)
    assert {key: body.get(key) for key in expected} == expected
    if not stream:
        assert "stream_options" not in body


# ------------------------------------------------------------------ pure parsers


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (None, None),
        ({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}, _u(10, 5)),
        (
            {"prompt_tokens": 4020, "completion_tokens": 4, "prompt_tokens_details": {"cached_tokens": 4012}},
            _u(4020, 4, read=4012),
        ),
        ({"prompt_tokens": 4020, "prompt_tokens_details": {"cache_write_tokens": 4012}}, _u(4020, 0, write=4012)),
        (
            {"prompt_tokens": 9, "completion_tokens": 8, "completion_tokens_details": {"reasoning_tokens": 6}},
            _u(9, 8, reasoning=6),
        ),
        ({"prompt_tokens": 30, "prompt_cache_hit_tokens": 20, "prompt_cache_miss_tokens": 10}, _u(30, 0, read=20)),
        ({"prompt_tokens": 30, "cached_tokens": 12}, _u(30, 0, read=12)),  # Moonshot
        ({"prompt_tokens": 35, "completion_tokens": 12, "total_tokens": 109}, _u(35, 74, reasoning=62)),  # Gemini
        ({"prompt_tokens": None, "completion_tokens": "x", "prompt_tokens_details": None}, None),
    ],
)
def test_map_usage_normalises_every_vendors_fields(usage: Any, expected: Usage | None) -> None:
    assert map_usage(usage) == expected


@pytest.mark.parametrize(
    ("raw", "tools", "expected"),
    [
        ("stop", False, "stop"),
        ("length", False, "length"),
        ("tool_calls", True, "tool_calls"),
        ("function_call", True, "tool_calls"),
        ("content_filter", False, "content_filter"),
        ("sensitive", False, "content_filter"),
        ("network_error", False, "error"),
        ("model_context_window_exceeded", False, "length"),
        ("stop", True, "tool_calls"),
        ("something_new", False, "other"),
    ],
)
def test_parse_response_maps_finish_reasons_and_keeps_the_raw_one(raw: str, tools: bool, expected: str) -> None:
    calls = [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}] if tools else None
    body = {"choices": [{"message": {"content": "x", "tool_calls": calls}, "finish_reason": raw}], "model": "x"}
    completion = parse_response(body)
    assert completion.finish_reason == expected
    assert completion.raw_finish_reason == raw


def test_parse_response_reads_reasoning_refusal_and_dict_arguments() -> None:
    body = {
        "choices": [
            {
                "message": {
                    "content": None,
                    "refusal": "I can't help with that.",
                    "reasoning": "policy",
                    "tool_calls": [{"id": "", "function": {"name": "f", "arguments": {"a": 1}}}],
                },
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "cost": 0.5},
    }
    completion = parse_response(body, model="fallback")
    assert completion.text == "I can't help with that."
    assert completion.reasoning == "policy"
    assert json.loads(completion.tool_calls[0].arguments) == {"a": 1}
    assert completion.model == "fallback"
    assert completion.reported_cost_usd == 0.5


def test_parse_chunk_reads_the_usage_chunk_that_has_no_choices() -> None:
    chunk = parse_chunk({"choices": [], "usage": {"prompt_tokens": 3}, "obfuscation": "pad"})
    assert chunk.usage == {"prompt_tokens": 3} and chunk.text == "" and chunk.finish_reason is None


# ------------------------------------------------------------------ crafted streams


def _sse(*chunks: Any, done: bool = True) -> bytes:
    lines = [f"data: {json.dumps(c) if not isinstance(c, str) else c}\n\n" for c in chunks]
    return ("".join(lines) + ("data: [DONE]\n\n" if done else "")).encode()


def _chunk(content: str | None = None, finish: str | None = None, usage: Any = None, **delta: Any) -> dict[str, Any]:
    if content is not None:
        delta["content"] = content
    chunk: dict[str, Any] = {"object": "chat.completion.chunk", "model": "crafted"}
    chunk["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}]
    if usage is not None:
        chunk["usage"] = usage
    return chunk


def _client(
    body: bytes, status: int = 200, content_type: str = "text/event-stream", headers: dict[str, str] | None = None
) -> httpx2.AsyncClient:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, headers={"content-type": content_type, **(headers or {})}, content=body)

    return httpx2.AsyncClient(transport=httpx2.MockTransport(handler))


USAGE = {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}


@pytest.mark.parametrize(
    ("body", "usage"),
    [
        # OpenAI: a `choices: []` usage chunk before [DONE]
        (_sse(_chunk("he"), _chunk("llo", finish="stop"), {"choices": [], "usage": USAGE}), _u(7, 2)),
        # Z.AI, OpenRouter: usage on the finish_reason chunk
        (_sse(_chunk("he"), _chunk("llo", finish="stop", usage=USAGE)), _u(7, 2)),
        # Gemini's OpenAI endpoint: cumulative usage on every chunk, take the last
        (
            _sse(
                _chunk("he", usage={**USAGE, "completion_tokens": 1, "total_tokens": 8}), _chunk("llo", "stop", USAGE)
            ),
            _u(7, 2),
        ),
        # no usage at all
        (_sse(_chunk("he"), _chunk("llo", finish="stop")), Usage()),
        # [DONE] missing but a finish_reason seen
        (_sse(_chunk("he"), _chunk("llo", finish="stop"), done=False), Usage()),
        # SSE comments (OpenRouter keep-alives) and CRLF framing
        (b": OPENROUTER PROCESSING\r\n\r\n" + _sse(_chunk("hello", finish="stop")).replace(b"\n", b"\r\n"), Usage()),
    ],
)
async def test_every_usage_placement_ends_in_one_stream_done(body: bytes, usage: Usage) -> None:
    async with _client(body) as client:
        events = await _collect(_adapter(client))
    completion = _done(events)
    assert completion.text == "hello" and completion.usage == usage and completion.finish_reason == "stop"
    assert [e.text for e in events if isinstance(e, TextDelta)] in (["he", "llo"], ["hello"])


async def test_reasoning_and_text_deltas_arrive_in_order() -> None:
    body = _sse(_chunk(reasoning_content="think "), _chunk(reasoning_content="more"), _chunk("4", finish="stop"))
    async with _client(body) as client:
        events = await _collect(_adapter(client))
    assert events[:3] == [ReasoningDelta(text="think "), ReasoningDelta(text="more"), TextDelta(text="4")]
    assert _done(events).reasoning == "think more"


async def test_a_stream_that_ends_without_finish_reason_or_done_is_a_transport_error() -> None:
    async with _client(_sse(_chunk("hel"), done=False)) as client:
        with pytest.raises(ProviderTransportError, match="truncated"):
            await _collect(_adapter(client))


async def test_a_connection_dropped_mid_stream_is_a_transport_error() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield _sse(_chunk("hel"), done=False)
        raise httpx2.ReadError("connection reset")

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body())

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as client:
        with pytest.raises(ProviderTransportError) as caught:
            await _collect(_adapter(client))
    assert isinstance(caught.value.__cause__, httpx2.ReadError)


@pytest.mark.parametrize(
    ("error", "cls"),
    [
        ({"message": "The server had an error while processing your request.", "type": "server_error"}, ServerError),
        (
            {"code": 502, "message": "Provider returned error", "metadata": {"provider_name": "X", "raw": "boom"}},
            ServerError,
        ),
        ({"code": "1113", "message": "Insufficient balance or no resource package."}, QuotaExhausted),
        ({"message": "Overloaded", "type": "engine_overloaded_error"}, Overloaded),
        ({"message": "something odd"}, ServerError),
    ],
)
async def test_an_error_chunk_inside_a_200_stream_is_classified_like_an_http_error(
    error: dict[str, Any], cls: type[ProviderError]
) -> None:
    body = _sse(_chunk("partial"), {"error": error, "choices": [{"index": 0, "delta": {}, "finish_reason": "error"}]})
    async with _client(body) as client:
        with pytest.raises(cls):
            await _collect(_adapter(client))


async def test_an_sse_error_event_is_classified() -> None:
    body = b'event: error\ndata: {"error": {"message": "rate", "code": "rate_limit_exceeded"}}\n\n'
    async with _client(body) as client:
        with pytest.raises(RateLimited):
            await _collect(_adapter(client))


@pytest.mark.parametrize(
    "body",
    [
        _sse("{not json", done=False),
        _sse(_chunk("a"), "[1, 2]"),
        b"data: " + b"x" * 10 + b"\n\n",
    ],
)
async def test_non_json_stream_data_is_a_malformed_server_error(body: bytes) -> None:
    async with _client(body) as client:
        with pytest.raises(ServerError, match="malformed"):
            await _collect(_adapter(client))


async def test_a_stream_answered_with_an_error_status_is_classified_from_its_body() -> None:
    body = json.dumps({"error": {"message": "quota", "type": "insufficient_quota", "code": "insufficient_quota"}})
    async with _client(body.encode(), status=429, content_type="application/json") as client:
        with pytest.raises(QuotaExhausted) as caught:
            await _collect(_adapter(client))
    assert caught.value.scope == "balance" and caught.value.status_code == 429


async def test_a_stream_answered_with_one_json_body_still_yields_deltas_and_done() -> None:
    body = {"choices": [{"message": {"content": "whole"}, "finish_reason": "stop"}], "usage": USAGE}
    async with _client(json.dumps(body).encode(), content_type="application/json") as client:
        events = await _collect(_adapter(client))
    assert events[0] == TextDelta(text="whole") and _done(events).usage == _u(7, 2)


class _ClosableBody(httpx2.AsyncByteStream):
    """A response body that notes whether it was read to the end and whether it was closed (its connection freed)."""

    def __init__(self, body: bytes) -> None:
        self.lines = body.splitlines(keepends=True)
        self.sent = 0
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for line in self.lines:
            self.sent += 1
            yield line

    async def aclose(self) -> None:
        self.closed = True


async def test_breaking_out_of_a_stream_early_closes_it_cleanly() -> None:
    body = _ClosableBody(_sse(_chunk("a"), _chunk("b", finish="stop")))

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, stream=body)

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as client:
        stream = _adapter(client).stream(HELLO)
        with anyio.fail_after(5):
            first = await anext(stream)
            open_while_read = not body.closed
            await stream.aclose()  # type: ignore[attr-defined]
    assert first == TextDelta(text="a") and open_while_read
    assert body.closed, "closing the event stream early must close the response and free its connection"
    assert body.sent < len(body.lines), "the body was read to the end before it was closed"


# ------------------------------------------------------------------ non-stream failures


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<html>oops</html>", "text/html"),
        (b'{"id": "x"}', "application/json"),
        (b'{"choices": []}', "application/json"),
    ],
)
async def test_a_malformed_200_body_is_a_server_error(body: bytes, content_type: str) -> None:
    async with _client(body, content_type=content_type) as client:
        with pytest.raises(ServerError, match="malformed"):
            await _adapter(client).complete(HELLO)


async def test_a_200_body_holding_an_error_object_is_classified() -> None:
    body = json.dumps({"error": {"message": "bad model", "code": "model_not_found"}}).encode()
    async with _client(body, content_type="application/json") as client:
        with pytest.raises(ModelNotFound):
            await _adapter(client).complete(HELLO)


@pytest.mark.parametrize(
    "exception",
    [
        httpx2.ConnectError("refused"),
        httpx2.ConnectTimeout("slow"),
        httpx2.ReadTimeout("slow"),
        httpx2.RemoteProtocolError("peer closed"),
        httpx2.ReadError("reset"),
    ],
)
@pytest.mark.parametrize("streamed", [False, True])
async def test_transport_failures_become_transport_errors_raised_from_the_cause(
    exception: Exception, streamed: bool
) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        raise exception

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as client:
        adapter = _adapter(client)
        with pytest.raises(ProviderTransportError) as caught:
            await (_collect(adapter) if streamed else adapter.complete(HELLO))
    assert caught.value.__cause__ is exception
    assert (caught.value.provider, caught.value.account, caught.value.model) == ("openai", "acct-1", "m")


async def test_the_key_never_appears_in_an_error() -> None:
    body = json.dumps({"error": {"message": f"Incorrect API key provided: {KEY}.", "code": "invalid_api_key"}})
    async with _client(body.encode(), status=401, content_type="application/json") as client:
        with pytest.raises(AuthFailed) as caught:
            await _adapter(client).complete(HELLO)
    assert KEY not in str(caught.value) and KEY not in caught.value.body and KEY not in caught.value.message


async def test_an_http_error_carries_retry_after_and_the_limits_from_its_headers() -> None:
    body = json.dumps({"error": {"message": "slow down", "type": "tokens", "code": "rate_limit_exceeded"}})
    headers = {"retry-after-ms": "1500", "x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "6m0s"}
    async with _client(body.encode(), 429, "application/json", headers) as client:
        with pytest.raises(RateLimited) as caught:
            await _adapter(client).complete(HELLO)
    assert caught.value.retry_after_s == 1.5
    assert caught.value.limits.tokens_remaining == 0
    assert caught.value.limits.tokens_reset_at == NOW + timedelta(minutes=6)


# ------------------------------------------------------------------ error classification


def _observed_bodies() -> list[dict[str, Any]]:
    entries = json.loads((CASSETTES / "errors" / "observed_error_bodies.json").read_text())
    usable = []
    for entry in entries:
        if entry["provider"] not in ("openai", "zai", "moonshot"):
            continue
        try:
            json.loads(entry["body"])
        except ValueError:
            continue
        usable.append(entry)
    return usable


OBSERVED_CLASSES: dict[str, tuple[type[ProviderHTTPError], str | None]] = {
    "billing: insufficient_quota (do not retry)": (QuotaExhausted, "balance"),
    "billing: balance exhausted, returned as HTTP 429": (QuotaExhausted, "balance"),
    "billing: exceeded_current_quota_error": (QuotaExhausted, "balance"),
    "overloaded (retryable)": (Overloaded, None),
}


@pytest.mark.parametrize("entry", _observed_bodies(), ids=lambda entry: str(entry["kind"]))
def test_every_observed_openai_zai_and_moonshot_error_body_maps_to_its_class(entry: dict[str, Any]) -> None:
    cls, scope = OBSERVED_CLASSES[entry["kind"]]
    verdict = classify_error(entry["http_status"], entry["body"], {}, NOW)
    assert verdict.cls is cls
    if scope is not None:
        assert verdict.scope == scope
    assert verdict.message and len(verdict.message) <= 500


def test_the_observed_bodies_cover_the_four_json_cases() -> None:
    assert {entry["kind"] for entry in _observed_bodies()} == set(OBSERVED_CLASSES)


GEMINI_PER_MINUTE = json.loads(json.loads((CASSETTES / "errors" / "observed_error_bodies.json").read_text())[0]["body"])


def _e(**error: Any) -> str:
    return json.dumps({"error": error})


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        # OpenAI
        (429, _e(message="m", type="requests", code="rate_limit_exceeded"), RateLimited),
        (429, _e(message="m", type="insufficient_quota", code="credit_balance_exhausted"), QuotaExhausted),
        (429, _e(message="m", type="insufficient_quota", code="organization_spend_limit_exceeded"), QuotaExhausted),
        (429, _e(message="m", type="insufficient_quota", code="project_spend_limit_exceeded"), QuotaExhausted),
        (429, _e(message="m", type="insufficient_quota", code="organization_usage_limit_exceeded"), QuotaExhausted),
        (429, _e(message="m", code="slow_down"), RateLimited),
        (400, _e(message="m", type="invalid_request_error", code="context_length_exceeded"), ContextTooLong),
        (404, _e(message="m", type="invalid_request_error", code="model_not_found"), ModelNotFound),
        (401, _e(message="m", type="invalid_request_error", code="invalid_api_key"), AuthFailed),
        (500, _e(message="m", type="server_error"), ServerError),
        (503, _e(message="m"), Overloaded),
        # Z.AI business codes
        (429, _e(code="1302", message="High concurrency"), RateLimited),
        (429, _e(code="1303", message="High frequency"), RateLimited),
        (429, _e(code="1304", message="Daily limit"), QuotaExhausted),
        (400, _e(code="1211", message="Model does not exist"), ModelNotFound),
        (400, _e(code="1261", message="Prompt too long"), ContextTooLong),
        (401, _e(code="1001", message="no auth header"), AuthFailed),
        (429, _e(code="1112", message="locked"), AuthFailed),
        (400, _e(code="1214", message="Invalid field"), InvalidRequest),
        (429, _e(code="1312", message="busy model"), Overloaded),
        # Moonshot
        (429, _e(message="m", type="rate_limit_reached_error"), RateLimited),
        (401, _e(message="m", type="invalid_authentication_error"), AuthFailed),
        (
            400,
            _e(message="Invalid request: Your request exceeded model token limit: 8192", type="invalid_request_error"),
            ContextTooLong,
        ),
        # DeepSeek
        (402, _e(message="Insufficient Balance", type="unknown_error", code="invalid_request_error"), QuotaExhausted),
        (
            400,
            _e(message="This model's maximum context length is 65536 tokens.", code="invalid_request_error"),
            ContextTooLong,
        ),
        (400, _e(message="Model Not Exist", type="invalid_request_error"), ModelNotFound),
        # OpenRouter: the integer code is the status; moderation is not a bad key
        (402, _e(code=402, message="Insufficient credits"), QuotaExhausted),
        (403, _e(code=403, message="flagged", metadata={"reasons": ["x"], "flagged_input": "..."}), InvalidRequest),
        (403, _e(code=403, message="Key disabled"), AuthFailed),
        (
            200,
            _e(code=429, message="Provider returned error", metadata={"provider_name": "G", "raw": "rl"}),
            RateLimited,
        ),
        (503, _e(code=503, message="No available provider"), Overloaded),
        # Groq
        (400, _e(message="m", type="invalid_request_error", code="tool_use_failed"), InvalidRequest),
        # Gemini's OpenAI endpoint answers in Google's shape, sometimes as a list
        (429, json.dumps([GEMINI_PER_MINUTE]), RateLimited),
        (429, json.dumps(GEMINI_PER_MINUTE), RateLimited),
        (400, json.dumps([{"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}}]), InvalidRequest),
        # Ollama / LM Studio (a string error), vLLM (a top-level error object), a proxy's HTML page
        (404, json.dumps({"error": "model 'llama9' not found"}), ModelNotFound),
        (400, json.dumps({"object": "error", "message": "m", "type": "BadRequestError", "code": 400}), InvalidRequest),
        (502, "<html><body>Bad Gateway</body></html>", ServerError),
        (504, "", ServerError),
        # a message prefix never turns a 429 into something else
        (429, _e(message="This model's maximum context length is 10"), RateLimited),
    ],
)
def test_error_bodies_map_by_their_structured_fields(status: int, body: str, cls: type[ProviderHTTPError]) -> None:
    assert classify_error(status, body, {}, NOW).cls is cls


def test_a_gemini_per_day_quota_through_the_openai_endpoint_is_exhausted_until_pacific_midnight() -> None:
    per_day = json.loads(json.dumps(GEMINI_PER_MINUTE))
    per_day["error"]["details"][1]["violations"][0]["quotaId"] = "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
    verdict = classify_error(429, json.dumps([per_day]), {}, NOW)
    assert verdict.cls is QuotaExhausted and verdict.scope == "day"
    assert verdict.resets_at == datetime(2026, 11, 29, 8, tzinfo=UTC)


def test_a_gemini_per_minute_limit_waits_for_its_retry_delay() -> None:
    verdict = classify_error(429, json.dumps([GEMINI_PER_MINUTE]), {}, NOW)
    assert verdict.cls is RateLimited and verdict.retry_after_s == 58.0


def test_billing_errors_are_balance_scoped_and_daily_limits_day_scoped() -> None:
    assert classify_error(402, _e(message="m"), {}, NOW).scope == "balance"
    assert classify_error(429, _e(code="1113", message="m"), {}, NOW).scope == "balance"
    assert classify_error(429, _e(code="1304", message="m"), {}, NOW).scope == "day"


def test_an_openrouter_error_message_names_the_upstream_failure() -> None:
    body = _e(code=429, message="Provider returned error", metadata={"provider_name": "Google", "raw": "rate-limited"})
    assert classify_error(429, body, {}, NOW).message == "Provider returned error (Google: rate-limited)"


def test_long_messages_are_truncated() -> None:
    assert len(classify_error(400, _e(message="x" * 5000), {}, NOW).message) == 500


@pytest.mark.parametrize(
    ("headers", "body", "retry_after"),
    [
        ({"retry-after": "20"}, _e(code="rate_limit_exceeded", message="m"), 20.0),
        ({"Retry-After-Ms": "250"}, _e(code="rate_limit_exceeded", message="m"), 0.25),
        ({"x-ratelimit-reset-requests": "1m26.4s"}, _e(code="rate_limit_exceeded", type="requests", message="m"), 86.4),
        ({"x-ratelimit-reset-tokens": "6m0s"}, _e(code="rate_limit_exceeded", type="tokens", message="m"), 360.0),
        ({"retry-after": "20", "x-should-retry": "false"}, _e(code="rate_limit_exceeded", message="m"), None),
        ({}, _e(code="rate_limit_exceeded", message="m"), None),
    ],
)
def test_retry_after_comes_from_headers_or_the_named_buckets_reset(
    headers: dict[str, str], body: str, retry_after: float | None
) -> None:
    assert classify_error(429, body, headers, NOW).retry_after_s == retry_after


# ------------------------------------------------------------------ rate-limit headers


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (  # OpenAI, as recorded (test_tool_use_chain_of_two_calls)
            {
                "x-ratelimit-limit-requests": "30000",
                "x-ratelimit-limit-tokens": "150000000",
                "x-ratelimit-remaining-requests": "29999",
                "x-ratelimit-remaining-tokens": "149999981",
                "x-ratelimit-reset-requests": "2ms",
                "x-ratelimit-reset-tokens": "0s",
            },
            {
                "requests_limit": 30000,
                "requests_remaining": 29999,
                "requests_reset_at": NOW + timedelta(milliseconds=2),
                "tokens_limit": 150000000,
                "tokens_remaining": 149999981,
                "tokens_reset_at": NOW,
            },
        ),
        (  # Groq: Go durations with fractions; header names in any case
            {
                "X-RateLimit-Reset-Requests": "1m26.4s",
                "X-RATELIMIT-RESET-TOKENS": "6m0s",
                "X-Ratelimit-Limit-Tokens": "6000",
            },
            {
                "requests_reset_at": NOW + timedelta(seconds=86.4),
                "tokens_reset_at": NOW + timedelta(minutes=6),
                "tokens_limit": 6000,
            },
        ),
        (  # Moonshot / OpenRouter: unsuffixed request bucket, reset as epoch seconds or milliseconds
            {"X-RateLimit-Limit": "200", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1795867200"},
            {
                "requests_limit": 200,
                "requests_remaining": 0,
                "requests_reset_at": datetime(2026, 11, 28, 12, tzinfo=UTC),
            },
        ),
        (
            {"X-RateLimit-Reset": "1795867200000"},
            {"requests_reset_at": datetime(2026, 11, 28, 12, tzinfo=UTC)},
        ),
        ({"retry-after": "7"}, {"retry_after_s": 7.0}),
        ({"retry-after-ms": "120"}, {"retry_after_s": 0.12}),
        ({"Retry-After": "Sat, 28 Nov 2026 12:00:30 GMT"}, {"retry_after_s": 30.0}),
        ({"x-ratelimit-remaining-requests": "n/a", "x-ratelimit-reset-requests": "soon"}, {}),
    ],
)
def test_parse_limits_reads_real_header_values(headers: dict[str, str], expected: dict[str, Any]) -> None:
    limits = parse_openai_limits(headers, NOW)
    assert {key: value for key, value in limits.model_dump().items() if value is not None} == expected


async def test_the_adapter_parse_limits_accepts_httpx_headers() -> None:
    async with httpx2.AsyncClient() as client:
        adapter = OpenAICompatAdapter(client, ENDPOINT, clock=FixedClock())
        headers = httpx2.Headers({"X-RateLimit-Remaining-Requests": "3"})
        assert adapter.parse_limits(headers, NOW).requests_remaining == 3


async def test_groqs_requests_per_day_are_not_taken_for_a_per_minute_limit_but_none_left_still_counts() -> None:
    headers = httpx2.Headers(
        {
            "x-ratelimit-limit-requests": "14400",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": "2m59.56s",
            "x-ratelimit-limit-tokens": "6000",
        }
    )
    groq = VENDORS["groq"].options
    async with httpx2.AsyncClient() as client:
        per_day = OpenAICompatAdapter(client, ENDPOINT, groq, clock=FixedClock()).parse_limits(headers, NOW)
        per_minute = _adapter(client).parse_limits(headers, NOW)
    assert (per_day.requests_limit, per_day.tokens_limit, per_day.requests_remaining) == (None, 6000, 0)
    assert per_day.requests_reset_at == NOW + timedelta(seconds=179.56)
    assert per_minute.requests_limit == 14400


_IMAGE = ImagePart(media_type="image/png", data="iVBORw0KGgo=", width=4, height=4, sha256="h", path="shot.png")
_WITH_IMAGE = ChatRequest(model="m", messages=(Message(role="user", content="What is this?", images=(_IMAGE,)),))


def test_an_image_goes_as_an_image_url_part_with_a_data_url_after_the_text() -> None:
    body = build_body(_WITH_IMAGE, WireOptions(), False)
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]
