"""The Anthropic Messages adapter: recorded cassettes, real error bodies, request bodies, SSE edge cases, limits."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from pydantic import SecretStr

from providers.adapter import ChatAdapter
from providers.anthropic import ANTHROPIC_VERSION, AnthropicAdapter
from providers.anthropic_errors import classify_anthropic_error
from providers.anthropic_reply import map_usage, parse_response
from providers.anthropic_request import DEFAULT_MAX_TOKENS, build_body
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
from providers.ratelimits import parse_anthropic_limits
from providers.types import (
    ChatRequest,
    Completion,
    Endpoint,
    ImagePart,
    Message,
    RateLimits,
    ReasoningDelta,
    StreamDone,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolSpec,
    Usage,
)
from providers.vendors import WireOptions
from tests.cassettes import CASSETTES, Replay, load_cassette
from tests.clock import FixedClock

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SECRET = "sk-ant-api03-not-a-real-key"
ENDPOINT = Endpoint(
    provider="anthropic", account="acct-1", base_url="https://api.anthropic.com", api_key=SecretStr(SECRET)
)
PROMPT = ChatRequest(model="claude-sonnet-4-5", messages=(Message(role="user", content="Say hi"),))
ANTHROPIC_CASSETTES = sorted((CASSETTES / "anthropic").glob("*.yaml"))
OBSERVED_ERRORS: list[dict[str, Any]] = json.loads((CASSETTES / "errors" / "observed_error_bodies.json").read_text())


def _adapter(client: httpx2.AsyncClient, endpoint: Endpoint = ENDPOINT, now: datetime = NOW) -> AnthropicAdapter:
    return AnthropicAdapter(client, endpoint, clock=lambda: now)


async def _collect(adapter: AnthropicAdapter, request: ChatRequest = PROMPT) -> list[StreamEvent]:
    with anyio.fail_after(5):
        return [event async for event in adapter.stream(request)]


async def _events_then_error(adapter: AnthropicAdapter) -> tuple[list[StreamEvent], ProviderError]:
    """The deltas a stream yielded before it failed, and the failure."""
    seen: list[StreamEvent] = []
    with anyio.fail_after(5):
        try:
            async for event in adapter.stream(PROMPT):
                seen.append(event)  # noqa: PERF401 - the events before the failure are the point
        except ProviderError as error:
            return seen, error
    raise AssertionError("the stream did not fail")


def _done(events: list[StreamEvent]) -> Completion:
    """The completion of a stream, after checking it ends with exactly one StreamDone that agrees with the deltas."""
    assert isinstance(events[-1], StreamDone)
    assert not any(isinstance(event, StreamDone) for event in events[:-1])
    completion = events[-1].completion
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == completion.text
    assert ("".join(e.text for e in events if isinstance(e, ReasoningDelta)) or None) == completion.reasoning
    return completion


@pytest.mark.anyio
async def test_the_adapter_is_a_chat_adapter() -> None:
    async with httpx2.AsyncClient() as client:
        adapter: ChatAdapter = AnthropicAdapter(client, ENDPOINT, clock=FixedClock())
        assert adapter.parse_limits({}, NOW).is_empty


# --- every recorded cassette --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    text_prefix: str = ""
    tools: tuple[str, ...] = ()
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read: int = 0
    cache_write: int = 0
    finish: str = "stop"
    raw_finish: str | None = "end_turn"
    reasoning: bool = False
    error: type[ProviderError] | None = None


EXPECTED: dict[str, list[Expected]] = {
    "test_prompt.yaml": [Expected("- Captain\n- Scoop", input_tokens=17, output_tokens=10)],
    "test_prompt_with_prefill_and_stop_sequences.yaml": [
        Expected("\ndef pelican():", input_tokens=16, output_tokens=28, raw_finish="stop_sequence")
    ],
    "test_stream_events_thinking.yaml": [
        Expected("1. **Pouch**", input_tokens=46, output_tokens=133, reasoning=True),
    ],
    "test_stream_events_tool_calls.yaml": [
        Expected(
            tools=("pelican_name_generator",),
            input_tokens=543,
            output_tokens=40,
            finish="tool_calls",
            raw_finish="tool_use",
        )
    ],
    "test_anthropic_cache_real_api.yaml": [
        # input_tokens 3 + cache read 1111 (+ cache creation 0 / 418): the wire's input_tokens excludes the cache
        Expected("# What is Python?", input_tokens=1114, output_tokens=406, cache_read=1111),
        Expected("Python is a beginner", input_tokens=1532, output_tokens=33, cache_read=1111, cache_write=418),
    ],
    "test_anthropic_tool_output.yaml": [
        Expected(
            tools=("get_user_country",), input_tokens=445, output_tokens=23, finish="tool_calls", raw_finish="tool_use"
        ),
        Expected(
            tools=("final_result",), input_tokens=497, output_tokens=56, finish="tool_calls", raw_finish="tool_use"
        ),
    ],
    "test_anthropic_count_tokens_error.yaml": [Expected(error=ModelNotFound)],
    "test_anthropic_explicit_effort_xhigh_unsupported_model_errors.yaml": [Expected(error=InvalidRequest)],
}


def test_every_anthropic_cassette_has_expectations() -> None:
    assert {path.name for path in ANTHROPIC_CASSETTES} == set(EXPECTED)


async def _run(adapter: AnthropicAdapter, stream: bool) -> Completion:
    if stream:
        return _done(await _collect(adapter))
    with anyio.fail_after(5):
        return await adapter.complete(PROMPT)


@pytest.mark.anyio
@pytest.mark.parametrize("path", ANTHROPIC_CASSETTES, ids=lambda path: path.stem)
async def test_replaying_a_cassette_gives_its_text_tools_usage_and_finish_reason(path: Path) -> None:
    replay = Replay(load_cassette(path))
    async with replay.client() as client:
        adapter = _adapter(client)
        for interaction, expected in zip(replay.interactions, EXPECTED[path.name], strict=True):
            if expected.error is not None:
                with pytest.raises(expected.error) as caught:
                    await _run(adapter, interaction.is_stream)
                assert isinstance(caught.value, ProviderHTTPError)
                assert caught.value.status_code == interaction.status
                continue
            completion = await _run(adapter, interaction.is_stream)
            assert completion.text.startswith(expected.text_prefix)
            assert bool(completion.text) == bool(expected.text_prefix)
            assert tuple(call.name for call in completion.tool_calls) == expected.tools
            assert all(isinstance(json.loads(call.arguments), dict) for call in completion.tool_calls)
            assert completion.usage == Usage(
                input_tokens=expected.input_tokens,
                output_tokens=expected.output_tokens,
                cache_read_tokens=expected.cache_read,
                cache_write_tokens=expected.cache_write,
            )
            assert completion.finish_reason == expected.finish
            assert completion.raw_finish_reason == expected.raw_finish
            assert bool(completion.reasoning) == expected.reasoning
            assert completion.model.startswith("claude-")


@pytest.mark.anyio
async def test_streamed_tool_call_arguments_default_to_the_start_blocks_empty_input() -> None:
    replay = Replay(load_cassette(CASSETTES / "anthropic" / "test_stream_events_tool_calls.yaml"))
    async with replay.client() as client:
        events = await _collect(_adapter(client))
    assert events[0] == ToolCallDelta(index=0, id="toolu_01CzN6riCPqw4pVSuTd9Dwn7", name="pelican_name_generator")
    assert _done(events).tool_calls == (
        ToolCall(id="toolu_01CzN6riCPqw4pVSuTd9Dwn7", name="pelican_name_generator", arguments="{}"),
    )


@pytest.mark.anyio
async def test_a_non_streamed_tool_call_keeps_its_input_as_json_arguments() -> None:
    replay = Replay(load_cassette(CASSETTES / "anthropic" / "test_anthropic_tool_output.yaml"))
    async with replay.client() as client:
        adapter = _adapter(client)
        await adapter.complete(PROMPT)
        second = await adapter.complete(PROMPT)
    assert second.tool_calls[0].id == "toolu_01LZABsgreMefH2Go8D5PQbW"
    assert json.loads(second.tool_calls[0].arguments) == {"city": "Mexico City", "country": "Mexico"}


@pytest.mark.anyio
async def test_a_completion_carries_the_rate_limits_of_its_response_headers() -> None:
    path = CASSETTES / "anthropic" / "test_prompt.yaml"
    replay = Replay(load_cassette(path))
    async with replay.client() as client:
        completion = _done(await _collect(_adapter(client)))
    assert completion.rate_limits == parse_anthropic_limits(dict(replay.interactions[0].headers), NOW)
    assert completion.rate_limits.requests_remaining == 19999


# --- the request we send ------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_tool_result_turn_is_sent_as_the_recorded_anthropic_body() -> None:
    path = CASSETTES / "anthropic" / "test_anthropic_tool_output.yaml"
    replay = Replay(load_cassette(path))
    tools = tuple(
        ToolSpec(name=tool["name"], description=tool["description"], parameters=tool["input_schema"])
        for tool in replay.interactions[1].request_body["tools"]
    )
    question = Message(role="user", content="What is the largest city in the user country?")
    call = ToolCall(id="toolu_01X9wcHKKAZD9tBC711xipPa", name="get_user_country", arguments="{}")
    request = ChatRequest(
        model="claude-sonnet-4-5",
        max_output_tokens=4096,
        tools=tools,
        messages=(
            question,
            Message(role="assistant", tool_calls=(call,)),
            Message(role="tool", tool_call_id=call.id, name=call.name, content="Mexico"),
        ),
    )
    async with replay.client() as client:
        adapter = _adapter(client)
        await adapter.complete(request.model_copy(update={"messages": (question,)}))
        await adapter.complete(request)
    sent, recorded = replay.sent_json(), replay.interactions[1].request_body
    for message in recorded["messages"]:
        for block in message["content"]:
            block.pop("is_error", None)  # false is the wire's default
    assert sent["messages"] == recorded["messages"]
    assert sent["tools"] == recorded["tools"]
    assert sent["max_tokens"] == recorded["max_tokens"]
    assert "stream" not in sent


@pytest.mark.anyio
async def test_requests_go_to_v1_messages_with_the_key_version_and_extra_headers() -> None:
    replay = Replay(load_cassette(CASSETTES / "anthropic" / "test_prompt.yaml"))
    async with replay.client() as client:
        _done(await _collect(_adapter(client)))
    request = replay.sent[0]
    assert str(request.url) == "https://api.anthropic.com/v1/messages"
    assert request.headers["x-api-key"] == SECRET
    assert request.headers["anthropic-version"] == ANTHROPIC_VERSION
    assert request.headers["content-type"] == "application/json"
    assert replay.sent_json()["stream"] is True


@pytest.mark.anyio
async def test_a_compatible_endpoint_base_url_gets_v1_messages_and_no_key_header_without_a_key() -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json=_message([{"type": "text", "text": "ok"}]))

    endpoint = Endpoint(
        provider="zai",
        account="z",
        base_url="https://api.z.ai/api/anthropic/",
        extra_headers={"anthropic-beta": "x-1", "authorization": "Bearer t"},
    )
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as client:
        completion = await _adapter(client, endpoint).complete(PROMPT)
    assert completion.text == "ok"
    assert str(seen[0].url) == "https://api.z.ai/api/anthropic/v1/messages"
    assert "x-api-key" not in seen[0].headers
    assert seen[0].headers["anthropic-beta"] == "x-1"
    assert seen[0].headers["authorization"] == "Bearer t"


def _body(*messages: Message, **fields: Any) -> dict[str, Any]:
    request = ChatRequest(model="m", messages=messages, **fields)
    return build_body(request, WireOptions(temperature_max=1.0), stream=False)


def test_system_is_top_level_and_system_role_messages_fold_into_it() -> None:
    body = _body(
        Message(role="system", content="Be terse."),
        Message(role="user", content="hi"),
        system="You are a router's worker.",
    )
    assert body["system"] == "You are a router's worker.\n\nBe terse."
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]


def test_max_tokens_is_always_sent() -> None:
    assert _body(Message(role="user", content="hi"))["max_tokens"] == DEFAULT_MAX_TOKENS
    assert _body(Message(role="user", content="hi"), max_output_tokens=77)["max_tokens"] == 77


def test_tool_calls_become_tool_use_blocks_and_results_one_user_turn() -> None:
    calls = (
        ToolCall(id="t1", name="read", arguments='{"path": "a.py"}'),
        ToolCall(id="t2", name="grep", arguments="{not json"),
        ToolCall(id="t3", name="list", arguments="[1, 2]"),
    )
    body = _body(
        Message(role="user", content="Look"),
        Message(role="assistant", content="Checking.", tool_calls=calls),
        Message(role="tool", tool_call_id="t1", content="print(1)"),
        Message(role="tool", tool_call_id="t2", content=""),
        Message(role="tool", tool_call_id="t3", content="[]"),
        Message(role="user", content="Now explain."),
    )
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Look"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "t1", "name": "read", "input": {"path": "a.py"}},
                {"type": "tool_use", "id": "t2", "name": "grep", "input": {}},
                {"type": "tool_use", "id": "t3", "name": "list", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "print(1)"},
                {"type": "tool_result", "tool_use_id": "t2"},
                {"type": "tool_result", "tool_use_id": "t3", "content": "[]"},
                {"type": "text", "text": "Now explain."},
            ],
        },
    ]


@pytest.mark.parametrize(
    ("messages", "roles"),
    [
        ((("user", "a"), ("user", "b")), ["user"]),
        ((("user", "a"), ("assistant", "b"), ("assistant", "c"), ("user", "d")), ["user", "assistant", "user"]),
        ((("user", "a"), ("system", "s"), ("user", "b")), ["user"]),
        ((("user", "a"), ("assistant", "  "), ("user", "b")), ["user"]),
    ],
)
def test_consecutive_same_role_turns_merge_so_roles_alternate(
    messages: tuple[tuple[Any, str], ...], roles: list[str]
) -> None:
    body = _body(*(Message(role=role, content=content) for role, content in messages))
    assert [turn["role"] for turn in body["messages"]] == roles


def test_a_user_turn_opens_with_its_tool_results_even_when_text_came_first() -> None:
    body = _body(
        Message(role="assistant", tool_calls=(ToolCall(id="t1", name="f"),)),
        Message(role="user", content="also this"),
        Message(role="tool", tool_call_id="t1", content="done"),
    )
    assert [block["type"] for block in body["messages"][1]["content"]] == ["tool_result", "text"]


def test_tools_stop_sequences_and_stream_flag_are_translated() -> None:
    schema = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
    request = ChatRequest(
        model="m",
        messages=(Message(role="user", content="hi"),),
        tools=(ToolSpec(name="search", description="Search the web", parameters=schema),),
        stop=("```", "END"),
    )
    body = build_body(request, WireOptions(), stream=True)
    assert body["tools"] == [{"name": "search", "description": "Search the web", "input_schema": schema}]
    assert body["stop_sequences"] == ["```", "END"]
    assert body["stream"] is True
    assert "temperature" not in body


@pytest.mark.parametrize(
    ("asked", "options", "sent"),
    [
        (0.3, WireOptions(temperature_max=1.0), 0.3),
        (1.7, WireOptions(temperature_max=1.0), 1.0),
        (1.7, WireOptions(temperature_max=2.0), 1.0),  # the wire's own cap wins over permissive options
        (-0.5, WireOptions(temperature_max=1.0), 0.0),
        (0.0, WireOptions(temperature_min=0.01, temperature_max=1.0), 0.01),
    ],
)
def test_temperature_is_clamped_to_the_wire_range(asked: float, options: WireOptions, sent: float) -> None:
    request = ChatRequest(model="m", messages=(Message(role="user", content="hi"),), temperature=asked)
    assert build_body(request, options, stream=False)["temperature"] == sent


def test_json_output_is_asked_for_in_the_system_prompt() -> None:
    assert "JSON" in _body(Message(role="user", content="hi"), json_output=True)["system"]


# --- pure response parsing ----------------------------------------------------------------------------------


def _message(content: list[dict[str, Any]], stop_reason: str | None = "end_turn", **usage: int) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": content,
        "stop_reason": stop_reason,
        "usage": {"input_tokens": 5, "output_tokens": 7, **usage},
    }


@pytest.mark.parametrize(
    ("raw", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "other"),
        ("something_new", "other"),
        (None, "other"),
    ],
)
def test_stop_reasons_map_to_finish_reasons_and_the_raw_one_is_kept(raw: str | None, finish: str) -> None:
    completion = parse_response(_message([], stop_reason=raw), fallback_model="m")
    assert (completion.finish_reason, completion.raw_finish_reason) == (finish, raw)


def test_a_response_joins_text_blocks_keeps_thinking_apart_and_lists_tool_uses() -> None:
    content: list[dict[str, Any]] = [
        {"type": "thinking", "thinking": "Let me see.", "signature": "sig"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "Hello "},
        {"type": "text", "text": "world"},
        {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "é"}},
    ]
    completion = parse_response(_message(content, "tool_use"), fallback_model="m")
    assert completion.text == "Hello world"
    assert completion.reasoning == "Let me see."
    assert completion.tool_calls == (ToolCall(id="toolu_1", name="lookup", arguments=json.dumps({"q": "é"})),)
    assert completion.model == "claude-x"


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ({"input_tokens": 3, "output_tokens": 9}, Usage(input_tokens=3, output_tokens=9)),
        (
            {
                "input_tokens": 3,
                "cache_read_input_tokens": 1111,
                "cache_creation_input_tokens": 418,
                "output_tokens": 33,
            },
            Usage(input_tokens=1532, output_tokens=33, cache_read_tokens=1111, cache_write_tokens=418),
        ),
        ({"input_tokens": 4, "cache_read_input_tokens": None, "output_tokens": None}, Usage(input_tokens=4)),
        (None, None),
    ],
)
def test_usage_input_includes_cache_reads_and_writes(usage: dict[str, Any] | None, expected: Usage | None) -> None:
    assert map_usage(usage) == expected


# --- rate-limit headers -------------------------------------------------------------------------------------


def test_parse_limits_reads_the_recorded_anthropic_ratelimit_headers() -> None:
    headers = dict(load_cassette(CASSETTES / "anthropic" / "test_prompt.yaml")[0].headers)
    reset = datetime(2026, 2, 17, 23, 44, 11, tzinfo=UTC)
    assert parse_anthropic_limits(headers, NOW) == RateLimits(
        requests_limit=20000,
        requests_remaining=19999,
        requests_reset_at=reset,
        tokens_limit=2400000,
        tokens_remaining=2400000,
        tokens_reset_at=reset,
    )


@pytest.mark.parametrize("path", [p for p in ANTHROPIC_CASSETTES if "anthropic-ratelimit" in p.read_text()])
def test_parse_limits_finds_limits_in_every_cassette_that_has_them(path: Path) -> None:
    limits = parse_anthropic_limits(dict(load_cassette(path)[0].headers), NOW)
    assert limits.requests_limit and limits.tokens_limit and limits.tokens_reset_at


def test_parse_limits_is_case_insensitive_and_falls_back_to_input_tokens() -> None:
    headers = {
        "Anthropic-RateLimit-Requests-Remaining": "0",
        "ANTHROPIC-RATELIMIT-INPUT-TOKENS-LIMIT": "30000",
        "anthropic-ratelimit-input-tokens-remaining": "120",
        "anthropic-ratelimit-input-tokens-reset": "2026-11-28T12:00:30Z",
        "Retry-After": "17",
    }
    limits = parse_anthropic_limits(headers, NOW)
    assert limits.requests_remaining == 0
    assert (limits.tokens_limit, limits.tokens_remaining) == (30000, 120)
    assert limits.tokens_reset_at == datetime(2026, 11, 28, 12, 0, 30, tzinfo=UTC)
    assert limits.retry_after_s == 17


def test_parse_limits_of_headers_without_limits_is_empty() -> None:
    assert parse_anthropic_limits({"content-type": "application/json"}, NOW).is_empty


# --- error bodies -------------------------------------------------------------------------------------------


def _anthropic_wire_bodies() -> list[dict[str, Any]]:
    """The observed bodies sent on the Messages wire: Anthropic's own, and Z.AI's Anthropic-compatible endpoint."""
    return [
        entry
        for entry in OBSERVED_ERRORS
        if entry["provider"] == "anthropic" or (entry["provider"] == "zai" and "api/anthropic" in entry["source"])
    ]


#: the observed bodies by `kind`, with the class and quota scope each must map to
OBSERVED_EXPECTED: dict[str, tuple[type[ProviderHTTPError], str | None]] = {
    "overloaded": (Overloaded, None),
    "billing: credit balance too low (HTTP 400, not 402/429)": (QuotaExhausted, "balance"),
    # Decision: the stored copy is truncated JSON; half an object is no evidence, so the status decides (429).
    "billing via Anthropic-compatible endpoint, disguised as rate_limit_error": (RateLimited, None),
}


def test_every_observed_messages_wire_error_body_has_an_expectation() -> None:
    assert sorted(entry["kind"] for entry in _anthropic_wire_bodies()) == sorted(OBSERVED_EXPECTED)


@pytest.mark.anyio
@pytest.mark.parametrize("entry", _anthropic_wire_bodies(), ids=lambda entry: str(entry["kind"])[:30])
async def test_an_observed_error_body_maps_to_its_class(entry: dict[str, Any]) -> None:
    cls, scope = OBSERVED_EXPECTED[entry["kind"]]
    error = await _complete_error(entry["http_status"], entry["body"])
    assert type(error) is cls
    assert error.status_code == entry["http_status"]
    if scope is not None:
        assert isinstance(error, QuotaExhausted) and error.scope == scope


def test_the_zai_1113_body_when_complete_is_quota_exhausted_despite_its_rate_limit_type() -> None:
    (entry,) = [e for e in _anthropic_wire_bodies() if e["provider"] == "zai"]
    completed = entry["body"] + '"}'
    verdict = classify_anthropic_error(429, completed, NOW)
    assert (verdict.cls, verdict.scope) == (QuotaExhausted, "balance")


async def _complete_error(
    status: int, body: str, headers: Mapping[str, str] | None = None, now: datetime = NOW
) -> ProviderHTTPError:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, headers=headers or {"content-type": "application/json"}, content=body.encode())

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as client:
        with pytest.raises(ProviderHTTPError) as caught:
            await _adapter(client, now=now).complete(PROMPT)
    return caught.value


def _error_body(error_type: str, message: str = "boom", **extra: Any) -> str:
    return json.dumps({"type": "error", "error": {"type": error_type, "message": message, **extra}, "request_id": "r"})


SPEND_CAP = _error_body(
    "rate_limit_error",
    "You have reached your specified API usage limits.",
    details={"error_code": "enforced_spend_limit_reached"},
)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "body", "cls", "scope"),
    [
        (400, _error_body("invalid_request_error", "messages: roles must alternate"), InvalidRequest, None),
        (
            400,
            _error_body("invalid_request_error", "prompt is too long: 208310 tokens > 200000 maximum"),
            ContextTooLong,
            None,
        ),
        (
            400,
            _error_body("invalid_request_error", "Your credit balance is too low to access the API."),
            QuotaExhausted,
            "balance",
        ),
        (401, _error_body("authentication_error", "invalid x-api-key"), AuthFailed, None),
        (402, _error_body("billing_error", "Payment required"), QuotaExhausted, "balance"),
        (403, _error_body("permission_error"), AuthFailed, None),
        (404, _error_body("not_found_error", "model: claude-gone"), ModelNotFound, None),
        (413, _error_body("request_too_large", "Request exceeds the maximum size"), ContextTooLong, None),
        (
            429,
            _error_body("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
            RateLimited,
            None,
        ),
        # message text never decides a 429: only a 400 is refined by its message
        (429, _error_body("rate_limit_error", "Your credit balance is too low"), RateLimited, None),
        (429, SPEND_CAP, QuotaExhausted, "month"),
        (429, json.dumps({"error": {"code": "1113", "message": "Insufficient balance"}}), QuotaExhausted, "balance"),
        (500, _error_body("api_error", "Internal server error"), ServerError, None),
        (504, _error_body("timeout_error", "Request timeout"), ServerError, None),
        (529, _error_body("overloaded_error", "Overloaded"), Overloaded, None),
        (502, "<html><body>502 Bad Gateway</body></html>", ServerError, None),
        (503, "", Overloaded, None),
        (429, "not json", RateLimited, None),
        (418, _error_body("teapot_error", "short and stout"), InvalidRequest, None),
        (500, _error_body("overloaded_error", "Overloaded"), Overloaded, None),  # the type outranks the status
    ],
)
async def test_an_error_status_maps_by_error_type_then_status(
    status: int, body: str, cls: type[ProviderHTTPError], scope: str | None
) -> None:
    error = await _complete_error(status, body)
    assert type(error) is cls
    assert error.status_code == status
    assert (error.provider, error.account, error.model) == ("anthropic", "acct-1", PROMPT.model)
    if scope is not None:
        assert isinstance(error, QuotaExhausted) and error.scope == scope


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("now", "resets_at"),
    [
        (NOW, datetime(2026, 12, 1, tzinfo=UTC)),
        (datetime(2026, 12, 31, 23, 59, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
    ],
)
async def test_the_monthly_spend_cap_is_exhausted_until_the_first_of_next_month(
    now: datetime, resets_at: datetime
) -> None:
    error = await _complete_error(429, SPEND_CAP, now=now)
    assert isinstance(error, QuotaExhausted)
    assert (error.scope, error.resets_at, error.retry_after_s) == ("month", resets_at, None)


@pytest.mark.anyio
async def test_a_rate_limited_error_carries_retry_after_and_the_limits_headers() -> None:
    headers = {
        "content-type": "application/json",
        "retry-after": "20",
        "anthropic-ratelimit-requests-remaining": "0",
    }
    error = await _complete_error(429, _error_body("rate_limit_error"), headers)
    assert isinstance(error, RateLimited)
    assert error.retry_after_s == 20
    assert error.limits.requests_remaining == 0


@pytest.mark.anyio
async def test_error_messages_carry_the_providers_message_truncated_and_never_the_key() -> None:
    error = await _complete_error(401, _error_body("authentication_error", f"invalid x-api-key {SECRET}"))
    assert "invalid x-api-key" in str(error)
    assert SECRET not in str(error) and SECRET not in error.body
    long = await _complete_error(400, _error_body("invalid_request_error", "x" * 5000))
    assert 100 < len(long.message) <= 300


# --- handcrafted streams ------------------------------------------------------------------------------------


def _sse(*frames: tuple[str, Any]) -> bytes:
    return "".join(
        f"event: {event}\ndata: {data if isinstance(data, str) else json.dumps(data)}\n\n" for event, data in frames
    ).encode()


START = (
    "message_start",
    {"type": "message_start", "message": {"model": "claude-x", "usage": {"input_tokens": 9, "output_tokens": 1}}},
)
PING = ("ping", {"type": "ping"})
TEXT_START = (
    "content_block_start",
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
)


def _delta(index: int, delta: dict[str, Any]) -> tuple[str, Any]:
    return ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})


def _stop_block(index: int) -> tuple[str, Any]:
    return ("content_block_stop", {"type": "content_block_stop", "index": index})


def _message_delta(stop_reason: str, **usage: int) -> tuple[str, Any]:
    return ("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop_reason}, "usage": usage})


MESSAGE_STOP = ("message_stop", {"type": "message_stop"})


def _serving(
    body: bytes | Callable[[], AsyncIterator[bytes]],
    status: int = 200,
    content_type: str = "text/event-stream",
    headers: Mapping[str, str] | None = None,
) -> httpx2.AsyncClient:
    def handler(request: httpx2.Request) -> httpx2.Response:
        all_headers = {"content-type": content_type, **(headers or {})}
        content = body if isinstance(body, bytes) else body()
        return httpx2.Response(status, headers=all_headers, content=content)

    return httpx2.AsyncClient(transport=httpx2.MockTransport(handler))


@pytest.mark.anyio
async def test_a_stream_yields_text_reasoning_and_fragmented_tool_calls_then_done() -> None:
    body = _sse(
        PING,
        START,
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
        ),
        _delta(0, {"type": "thinking_delta", "thinking": "Plan."}),
        _delta(0, {"type": "signature_delta", "signature": "c2ln"}),
        _stop_block(0),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        ),
        _delta(1, {"type": "text_delta", "text": "Calling "}),
        PING,
        _delta(1, {"type": "text_delta", "text": "tools."}),
        _stop_block(1),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 2,
                "content_block": {"type": "tool_use", "id": "tu_a", "name": "read", "input": {}},
            },
        ),
        _delta(2, {"type": "input_json_delta", "partial_json": '{"pa'}),
        _delta(2, {"type": "input_json_delta", "partial_json": 'th": "a.py"}'}),
        _stop_block(2),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 3,
                "content_block": {"type": "tool_use", "id": "tu_b", "name": "ls", "input": {}},
            },
        ),
        _stop_block(3),
        ("some_future_event", {"type": "some_future_event"}),
        _message_delta(
            "tool_use", input_tokens=9, cache_read_input_tokens=100, cache_creation_input_tokens=20, output_tokens=42
        ),
        MESSAGE_STOP,
    )
    async with _serving(body) as client:
        events = await _collect(_adapter(client))
    assert events[:-1] == [
        ReasoningDelta(text="Plan."),
        TextDelta(text="Calling "),
        TextDelta(text="tools."),
        ToolCallDelta(index=0, id="tu_a", name="read"),
        ToolCallDelta(index=0, arguments='{"pa'),
        ToolCallDelta(index=0, arguments='th": "a.py"}'),
        ToolCallDelta(index=1, id="tu_b", name="ls"),
    ]
    completion = _done(events)
    assert completion.tool_calls == (
        ToolCall(id="tu_a", name="read", arguments='{"path": "a.py"}'),
        ToolCall(id="tu_b", name="ls", arguments="{}"),
    )
    assert completion.usage == Usage(input_tokens=129, output_tokens=42, cache_read_tokens=100, cache_write_tokens=20)
    assert (completion.finish_reason, completion.model) == ("tool_calls", "claude-x")


@pytest.mark.anyio
async def test_message_start_usage_stands_when_message_delta_omits_fields() -> None:
    body = _sse(
        START,
        TEXT_START,
        _delta(0, {"type": "text_delta", "text": "hi"}),
        _message_delta("max_tokens", output_tokens=3),
        MESSAGE_STOP,
    )
    async with _serving(body) as client:
        completion = _done(await _collect(_adapter(client)))
    assert completion.usage == Usage(input_tokens=9, output_tokens=3)
    assert completion.finish_reason == "length"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "frames",
    [
        (START, TEXT_START, _delta(0, {"type": "text_delta", "text": "partial"})),
        (START,),
        (),
    ],
    ids=["mid-text", "after-start", "empty"],
)
async def test_a_stream_ending_before_message_stop_is_a_transport_error(frames: tuple[tuple[str, Any], ...]) -> None:
    async with _serving(_sse(*frames)) as client:
        seen, error = await _events_then_error(_adapter(client))
    assert isinstance(error, ProviderTransportError) and "truncated" in str(error)
    assert not any(isinstance(event, StreamDone) for event in seen)


@pytest.mark.anyio
async def test_a_stream_with_a_stop_reason_but_no_message_stop_still_completes() -> None:
    body = _sse(
        START, TEXT_START, _delta(0, {"type": "text_delta", "text": "ok"}), _message_delta("end_turn", output_tokens=2)
    )
    async with _serving(body) as client:
        assert _done(await _collect(_adapter(client))).text == "ok"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("error_type", "cls", "status"),
    [
        ("overloaded_error", Overloaded, 529),
        ("api_error", ServerError, 500),
        ("rate_limit_error", RateLimited, 429),
        ("invalid_request_error", InvalidRequest, 400),
        ("brand_new_error", ServerError, 500),
    ],
)
async def test_an_error_event_inside_a_200_stream_is_classified_by_its_type(
    error_type: str, cls: type[ProviderHTTPError], status: int
) -> None:
    error_event = ("error", {"type": "error", "error": {"type": error_type, "message": "Overloaded"}})
    body = _sse(START, TEXT_START, _delta(0, {"type": "text_delta", "text": "so"}), PING, error_event)
    async with _serving(body) as client:
        with pytest.raises(ProviderHTTPError) as caught:
            await _collect(_adapter(client))
    assert type(caught.value) is cls
    assert caught.value.status_code == status


@pytest.mark.anyio
@pytest.mark.parametrize(
    "frames",
    [
        (START, ("content_block_delta", "{not json")),
        (START, ("message_delta", '["a", "list"]')),
        (START, _delta(5, {"type": "text_delta", "text": "no start"})),
        (START, ("content_block_start", {"type": "content_block_start", "index": "zero", "content_block": {}})),
    ],
    ids=["non-json", "not-an-object", "unknown-block", "bad-index"],
)
async def test_malformed_stream_data_is_a_server_error(frames: tuple[tuple[str, Any], ...]) -> None:
    async with _serving(_sse(*frames, MESSAGE_STOP)) as client:
        with pytest.raises(ServerError, match="malformed"):
            await _collect(_adapter(client))


@pytest.mark.anyio
async def test_a_200_that_is_not_an_event_stream_is_a_server_error() -> None:
    async with _serving(b'{"type": "message"}', content_type="application/json") as client:
        with pytest.raises(ServerError):
            await _collect(_adapter(client))


@pytest.mark.anyio
async def test_an_error_status_on_a_stream_is_classified_from_its_body() -> None:
    body = _error_body("overloaded_error", "Overloaded").encode()
    async with _serving(body, status=529, content_type="application/json", headers={"retry-after": "3"}) as client:
        with pytest.raises(Overloaded) as caught:
            await _collect(_adapter(client))
    assert caught.value.retry_after_s == 3


# --- transport failures -------------------------------------------------------------------------------------


def _raising(exc: Exception) -> httpx2.AsyncClient:
    def handler(request: httpx2.Request) -> httpx2.Response:
        raise exc

    return httpx2.AsyncClient(transport=httpx2.MockTransport(handler))


@pytest.mark.anyio
@pytest.mark.parametrize(
    "exc",
    [httpx2.ConnectError("refused"), httpx2.ReadTimeout("timed out"), httpx2.ConnectTimeout("slow")],
    ids=lambda exc: type(exc).__name__,
)
@pytest.mark.parametrize("streaming", [False, True])
async def test_transport_failures_become_provider_transport_errors_from_their_cause(
    exc: Exception, streaming: bool
) -> None:
    async with _raising(exc) as client:
        with pytest.raises(ProviderTransportError) as caught:
            await _run(_adapter(client), streaming)
    assert caught.value.__cause__ is exc


@pytest.mark.anyio
async def test_a_connection_dropped_mid_stream_is_a_transport_error() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield _sse(START, TEXT_START, _delta(0, {"type": "text_delta", "text": "half"}))
        raise httpx2.RemoteProtocolError("peer closed connection without sending complete message body")

    async with _serving(chunks) as client:
        seen, error = await _events_then_error(_adapter(client))
    assert isinstance(error, ProviderTransportError)
    assert isinstance(error.__cause__, httpx2.RemoteProtocolError)
    assert seen == [TextDelta(text="half")]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b"<html>oops</html>", {"content-type": "text/html"}),
        (b"[1, 2]", {"content-type": "application/json"}),
        (b"\x00not gzip at all", {"content-type": "application/json", "content-encoding": "gzip"}),
    ],
    ids=["html", "not-an-object", "bad-gzip"],
)
async def test_a_200_whose_body_is_not_a_message_is_a_server_error(content: bytes, headers: dict[str, str]) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers=headers, content=content)

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as client:
        with pytest.raises(ServerError):
            await _adapter(client).complete(PROMPT)


@pytest.mark.anyio
async def test_an_error_object_in_a_200_body_is_classified() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=_error_body("overloaded_error", "Overloaded").encode())

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as client:
        with pytest.raises(Overloaded):
            await _adapter(client).complete(PROMPT)


_IMAGE = ImagePart(media_type="image/png", data="iVBORw0KGgo=", width=4, height=4, sha256="h", path="shot.png")
_WITH_IMAGE = ChatRequest(model="m", messages=(Message(role="user", content="What is this?", images=(_IMAGE,)),))


def test_an_image_goes_as_a_base64_image_block_after_the_text() -> None:
    body = build_body(_WITH_IMAGE, WireOptions(), stream=False)
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
    ]
