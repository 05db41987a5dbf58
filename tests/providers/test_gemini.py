from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx2
import pytest
from pydantic import SecretStr

from providers.adapter import ChatAdapter
from providers.errors import (
    AuthFailed,
    Overloaded,
    ProviderTransportError,
    QuotaExhausted,
    RateLimited,
    ServerError,
)
from providers.gemini import GeminiAdapter
from providers.gemini_reply import map_usage
from providers.gemini_request import SKIP_THOUGHT_SIGNATURE, build_body
from providers.gemini_stream import JsonArrayChunks, parse_response
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

pytestmark = pytest.mark.anyio

BASE = "https://generativelanguage.googleapis.com/v1beta"
KEY = "test-key-not-secret"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
GEMINI = CASSETTES / "gemini"
OPENAI_COMPATIBLE = {"test_compatible_api_with_tool_calls_without_id.yaml"}  # the /openai/ endpoint: not this wire


def _endpoint(**extra: Any) -> Endpoint:
    return Endpoint(provider="google", account="g1", base_url=BASE, api_key=SecretStr(KEY), **extra)


def _adapter(client: httpx2.AsyncClient, **extra: Any) -> GeminiAdapter:
    return GeminiAdapter(client, _endpoint(**extra), clock=lambda: NOW)


def _ask(text: str = "hi", model: str = "gemini-2.5-flash", **extra: Any) -> ChatRequest:
    return ChatRequest(model=model, messages=(Message(role="user", content=text),), **extra)


async def _collect(adapter: GeminiAdapter, request: ChatRequest) -> list[StreamEvent]:
    with anyio.fail_after(5):
        return [event async for event in adapter.stream(request)]


def _check_stream_shape(events: list[StreamEvent]) -> Completion:
    """Every stream ends with exactly one StreamDone whose completion agrees with the deltas before it."""
    assert isinstance(events[-1], StreamDone)
    assert not any(isinstance(event, StreamDone) for event in events[:-1])
    completion = events[-1].completion
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == completion.text
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == (completion.reasoning or "")
    calls = [e for e in events if isinstance(e, ToolCallDelta)]
    assert [(c.id, c.name, c.arguments) for c in calls] == [(t.id, t.name, t.arguments) for t in completion.tool_calls]
    return completion


# ---------------------------------------------------------------- recorded cassettes


@dataclass(frozen=True)
class Expected:
    text: str
    tool_calls: tuple[str, ...]  # names
    usage: Usage
    finish_reason: str
    reasoning: bool = False


def _usage(input_tokens: int, output_tokens: int, reasoning: int = 0, cached: int = 0) -> Usage:
    return Usage(
        input_tokens=input_tokens, output_tokens=output_tokens, reasoning_tokens=reasoning, cache_read_tokens=cached
    )


COUNT_TO_30 = "\n".join(str(number) for number in range(1, 31))

EXPECTED: dict[str, list[Expected]] = {
    "test_google_model.yaml": [Expected("Hello! How can I help you today?", (), _usage(9, 43, 34), "stop")],
    "test_google_model_max_tokens.yaml": [Expected("The capital of France is", (), _usage(15, 5), "length")],
    "test_google_model_stream.yaml": [Expected("The capital of France is Paris.\n", (), _usage(13, 8), "stop")],
    "test_google_model_thinking_config.yaml": [
        Expected("The capital of France is **Paris**.", (), _usage(15, 8 + 275, 275), "stop")
    ],
    "test_google_model_thinking_part_iter.yaml": [
        Expected("This is a great question!", (), _usage(34, 469 + 787, 787), "stop", reasoning=True)
    ],
    "test_google_stream_usage_is_live_mid_stream.yaml": [Expected(COUNT_TO_30, (), _usage(18, 80 + 35, 35), "stop")],
    "test_google_tool_output.yaml": [
        Expected("", ("get_user_country",), _usage(33, 5), "tool_calls"),
        Expected("", ("final_result",), _usage(47, 8), "tool_calls"),
    ],
    "test_prompt.yaml": [Expected("Scoop", (), _usage(11, 2 + 291, 291), "stop", reasoning=True)],
    "test_tools.yaml": [
        Expected("", ("pelican_name_generator",), _usage(32, 12 + 42, 42), "tool_calls", reasoning=True),
        Expected("", ("pelican_name_generator",), _usage(105, 13), "tool_calls"),
        Expected("How about Charles and Sammy?", (), _usage(137, 6), "stop"),
    ],
}


def test_every_gemini_cassette_has_expectations() -> None:
    names = {path.name for path in GEMINI.glob("*.yaml")} - OPENAI_COMPATIBLE
    assert names == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_recorded_gemini_responses_replay_through_the_adapter(name: str) -> None:
    replay = Replay(load_cassette(GEMINI / name))
    async with replay.client() as client:
        adapter = _adapter(client)
        for interaction, expected in zip(replay.interactions, EXPECTED[name], strict=True):
            request = _ask(model="gemini-2.5-flash")
            if interaction.is_stream:
                completion = _check_stream_shape(await _collect(adapter, request))
                assert replay.sent[-1].url.path.endswith(":streamGenerateContent")
                assert replay.sent[-1].url.params["alt"] == "sse"
            else:
                completion = await adapter.complete(request)
                assert replay.sent[-1].url.path.endswith(":generateContent")
            assert completion.text.startswith(expected.text)
            assert completion.text == expected.text or expected.reasoning
            assert tuple(call.name for call in completion.tool_calls) == expected.tool_calls
            assert completion.usage == expected.usage
            assert completion.finish_reason == expected.finish_reason
            assert (completion.reasoning is not None) == expected.reasoning
            assert completion.rate_limits.is_empty  # Google sends no rate-limit headers


FIRST_CALL_ID = "call_OYpyaqycKd2V_uMP65TsgA0_0"  # the recorded responseId, then the call's position


async def test_a_tool_conversation_sends_function_calls_and_responses_back() -> None:
    replay = Replay(load_cassette(GEMINI / "test_tools.yaml"))
    tool = ToolSpec(name="pelican_name_generator", parameters={"type": "object", "properties": {}})
    history: list[Message] = [Message(role="user", content="Two names for a pet pelican")]
    results = iter(["Charles", "Sammy"])
    async with replay.client() as client:
        adapter = _adapter(client)
        for _ in replay.interactions:
            request = ChatRequest(model="gemini-2.5-flash", messages=tuple(history), tools=(tool,), system="Be brief.")
            completion = _check_stream_shape(await _collect(adapter, request))
            history.append(Message(role="assistant", content=completion.text, tool_calls=completion.tool_calls))
            history.extend(
                Message(role="tool", content=next(results), tool_call_id=call.id) for call in completion.tool_calls
            )

    assert completion.text == "How about Charles and Sammy?"
    last = replay.sent_json()
    assert last["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert last["tools"] == [{"functionDeclarations": [{"name": "pelican_name_generator", "description": ""}]}]
    assert [turn["role"] for turn in last["contents"]] == ["user", "model", "user", "model", "user"]
    first_call, first_result = last["contents"][1]["parts"][0], last["contents"][2]["parts"][0]
    assert first_call == {
        "functionCall": {"name": "pelican_name_generator", "args": {}, "id": FIRST_CALL_ID},
        "thoughtSignature": SKIP_THOUGHT_SIGNATURE,
    }
    assert first_result == {
        "functionResponse": {"name": "pelican_name_generator", "response": {"output": "Charles"}, "id": FIRST_CALL_ID}
    }
    assert last["contents"][4]["parts"][0]["functionResponse"]["response"] == {"output": "Sammy"}
    # Gemini gave no call ids; the synthesized ones stay unique across the turns of the conversation
    call_ids = [call.id for message in history for call in message.tool_calls]
    assert call_ids == [FIRST_CALL_ID, "call_OopyavzdMqTQjrEPqLCdqAc_0"]


async def test_requests_carry_the_key_header_extra_headers_and_model_path() -> None:
    replay = Replay(load_cassette(GEMINI / "test_google_model.yaml"))
    async with replay.client() as client:
        adapter = _adapter(client, extra_headers={"x-goog-user-project": "proj"})
        await adapter.complete(_ask(model="gemini-2.5-flash"))
    sent = replay.sent[0]
    assert str(sent.url) == f"{BASE}/models/gemini-2.5-flash:generateContent"
    assert sent.headers["x-goog-api-key"] == KEY
    assert sent.headers["x-goog-user-project"] == "proj"
    assert "key" not in sent.url.params


async def test_a_keyless_endpoint_sends_no_key_and_a_tuned_model_keeps_its_collection() -> None:
    replay = Replay(load_cassette(GEMINI / "test_google_model.yaml"))
    async with replay.client() as client:
        endpoint = Endpoint(provider="proxy", account="p", base_url="http://127.0.0.1:9/v1beta/")
        await GeminiAdapter(client, endpoint, clock=FixedClock()).complete(_ask(model="tunedModels/my-model"))
    assert str(replay.sent[0].url) == "http://127.0.0.1:9/v1beta/tunedModels/my-model:generateContent"
    assert "x-goog-api-key" not in replay.sent[0].headers


async def test_the_adapter_satisfies_the_chat_adapter_protocol() -> None:
    async with httpx2.AsyncClient() as client:
        adapter: ChatAdapter = GeminiAdapter(client, _endpoint(), clock=FixedClock())
        assert adapter.parse_limits({}, NOW) == RateLimits()


# ---------------------------------------------------------------- request body


def test_body_has_system_instruction_user_turns_and_no_empty_generation_config() -> None:
    request = ChatRequest(
        model="m",
        system="You are terse.",
        messages=(
            Message(role="system", content="Answer in French."),
            Message(role="user", content="Hello"),
            Message(role="user", content="again"),
            Message(role="assistant", content="Bonjour"),
            Message(role="user", content=""),
        ),
    )
    assert build_body(request) == {
        "systemInstruction": {"parts": [{"text": "You are terse."}, {"text": "Answer in French."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "Hello"}, {"text": "again"}]},
            {"role": "model", "parts": [{"text": "Bonjour"}]},
        ],
    }


@pytest.mark.parametrize(
    ("extra", "options", "config"),
    [
        ({"temperature": 0.2}, WireOptions(), {"temperature": 0.2}),
        ({"temperature": 3.0}, WireOptions(), {"temperature": 2.0}),
        ({"temperature": 0.0}, WireOptions(temperature_min=0.01, temperature_max=1.0), {"temperature": 0.01}),
        ({"max_output_tokens": 64}, WireOptions(), {"maxOutputTokens": 64}),
        ({"stop": ("END", "STOP")}, WireOptions(), {"stopSequences": ["END", "STOP"]}),
        ({"json_output": True}, WireOptions(), {"responseMimeType": "application/json"}),
    ],
)
def test_generation_config_maps_each_request_setting(
    extra: dict[str, Any], options: WireOptions, config: dict[str, Any]
) -> None:
    assert build_body(_ask(**extra), options)["generationConfig"] == config


def test_tool_turns_become_function_call_and_response_parts_merged_by_role() -> None:
    calls = (
        ToolCall(id="a1", name="weather", arguments='{"city": "Paris"}'),
        ToolCall(id="a2", name="time", arguments=""),
    )
    request = ChatRequest(
        model="m",
        messages=(
            Message(role="user", content="Weather and time in Paris?"),
            Message(role="assistant", content="Checking.", tool_calls=calls),
            Message(role="tool", content='{"temp_c": 21}', tool_call_id="a1"),
            Message(role="tool", content="12:00", tool_call_id="a2", name="time"),
            Message(role="user", content="Thanks"),
            Message(role="assistant", tool_calls=(ToolCall(id="b", name="weather", arguments="not json"),)),
            Message(role="tool", content="[1, 2]", tool_call_id="unknown-id"),
        ),
    )
    contents = build_body(request)["contents"]
    assert [turn["role"] for turn in contents] == ["user", "model", "user", "model", "user"]
    assert contents[1]["parts"] == [
        {"text": "Checking."},
        {
            "functionCall": {"name": "weather", "args": {"city": "Paris"}, "id": "a1"},
            "thoughtSignature": "skip_thought_signature_validator",
        },
        {"functionCall": {"name": "time", "args": {}, "id": "a2"}},
    ]
    assert contents[2]["parts"] == [
        {"functionResponse": {"name": "weather", "response": {"temp_c": 21}, "id": "a1"}},
        {"functionResponse": {"name": "time", "response": {"output": "12:00"}, "id": "a2"}},
        {"text": "Thanks"},
    ]
    assert contents[3]["parts"][0]["functionCall"]["args"] == {"arguments": "not json"}
    assert contents[4]["parts"][0]["functionResponse"] == {
        "name": "unknown-id",
        "response": {"output": "[1, 2]"},
        "id": "unknown-id",
    }


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        (
            {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "title": "Args",
                "additionalProperties": False,
                "properties": {"city": {"type": "string", "title": "City", "description": "where"}},
                "required": ["city", "ghost"],
            },
            {
                "type": "object",
                "properties": {"city": {"type": "string", "description": "where"}},
                "required": ["city"],
            },
        ),
        (
            {
                "type": "object",
                "properties": {
                    "when": {"$ref": "#/$defs/When"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                },
                "$defs": {"When": {"type": "string", "format": "date-time", "additionalProperties": False}},
            },
            {
                "type": "object",
                "properties": {
                    "when": {"type": "string", "format": "date-time"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                },
            },
        ),
        (
            {
                "type": "object",
                "properties": {
                    "a": {"type": ["string", "null"]},
                    "b": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None},
                    "c": {"const": "fixed"},
                    "d": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
                    "e": {"type": ["integer", "string"]},
                },
            },
            {
                "type": "object",
                "properties": {
                    "a": {"type": "string", "nullable": True},
                    "b": {"type": "integer", "nullable": True, "default": None},
                    "c": {"enum": ["fixed"]},
                    "d": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
                    "e": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
                },
            },
        ),
        (
            {
                "type": "object",
                "properties": {"node": {"$ref": "#/definitions/Node"}},
                "definitions": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/definitions/Node"}}}},
            },
            None,  # recursive: inlined to a bounded depth, never looping
        ),
    ],
)
def test_tool_schemas_are_cut_to_what_gemini_accepts(
    parameters: dict[str, Any], expected: dict[str, Any] | None
) -> None:
    body = build_body(_ask(tools=(ToolSpec(name="f", description="d", parameters=parameters),)))
    declaration = body["tools"][0]["functionDeclarations"][0]
    assert declaration["name"] == "f" and declaration["description"] == "d"
    if expected is not None:
        assert declaration["parameters"] == expected
    assert "additionalProperties" not in json.dumps(declaration) and "$" not in json.dumps(declaration)


def test_a_tool_without_parameters_declares_none() -> None:
    body = build_body(_ask(tools=(ToolSpec(name="now"),)))
    assert body["tools"] == [{"functionDeclarations": [{"name": "now", "description": ""}]}]


# ---------------------------------------------------------------- response parsing


@pytest.mark.parametrize(
    ("metadata", "usage"),
    [
        ({}, None),
        ({"promptTokenCount": 18, "candidatesTokenCount": 80, "thoughtsTokenCount": 35}, _usage(18, 115, 35)),
        (
            {"promptTokenCount": 5000, "cachedContentTokenCount": 4096, "candidatesTokenCount": 10},
            _usage(5000, 10, cached=4096),
        ),
        ({"promptTokenCount": 10, "toolUsePromptTokenCount": 7, "candidatesTokenCount": 3}, _usage(17, 3)),
        ({"promptTokenCount": 10, "candidatesTokenCount": "x"}, None),
    ],
)
def test_usage_maps_prompt_candidates_thoughts_and_cache(metadata: dict[str, Any], usage: Usage | None) -> None:
    assert map_usage(metadata) == usage


def _response(parts: list[dict[str, Any]], finish: str | None = "STOP", **extra: Any) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], **extra}


@pytest.mark.parametrize(
    ("finish", "parts", "reason"),
    [
        ("STOP", [{"text": "ok"}], "stop"),
        ("STOP", [{"functionCall": {"name": "f", "args": {}}}], "tool_calls"),
        ("MAX_TOKENS", [{"text": "cut"}], "length"),
        ("SAFETY", [], "content_filter"),
        ("RECITATION", [], "content_filter"),
        ("BLOCKLIST", [], "content_filter"),
        ("PROHIBITED_CONTENT", [], "content_filter"),
        ("SPII", [], "content_filter"),
        ("MALFORMED_FUNCTION_CALL", [], "other"),
        ("OTHER", [], "other"),
        (None, [{"text": "?"}], "other"),
    ],
)
def test_finish_reasons_map_and_keep_the_raw_value(
    finish: str | None, parts: list[dict[str, Any]], reason: str
) -> None:
    completion = parse_response(_response(parts, finish), "m")
    assert completion.finish_reason == reason
    assert completion.raw_finish_reason == finish


def test_a_blocked_prompt_without_candidates_is_a_content_filter() -> None:
    completion = parse_response({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": {}}, "m")
    assert (completion.text, completion.finish_reason, completion.raw_finish_reason) == (
        "",
        "content_filter",
        "PROHIBITED_CONTENT",
    )


def test_thought_parts_become_reasoning_and_function_calls_get_stable_ids() -> None:
    data = _response(
        [
            {"text": "pondering", "thought": True},
            {"text": "Let me check."},
            {"functionCall": {"name": "a", "args": {"x": 1}}},
            {"functionCall": {"name": "b", "args": {"y": "é"}, "id": "given-id"}},
            {"functionCall": {"name": "c"}},
            {"text": "", "thoughtSignature": "abc"},
        ],
        modelVersion="models/gemini-2.5-pro",
    )
    completion = parse_response(data, "requested")
    assert completion.text == "Let me check."
    assert completion.reasoning == "pondering"
    assert completion.tool_calls == (
        ToolCall(id="call_0", name="a", arguments='{"x": 1}'),
        ToolCall(id="given-id", name="b", arguments='{"y": "é"}'),
        ToolCall(id="call_2", name="c", arguments="{}"),
    )
    assert completion.model == "gemini-2.5-pro"
    with_id = parse_response({**data, "responseId": "r/1+x"}, "requested")
    assert [call.id for call in with_id.tool_calls] == ["call_r1x_0", "given-id", "call_r1x_2"]
    assert parse_response(_response([{"text": "x"}]), "requested").model == "requested"


def test_only_the_first_candidate_is_read() -> None:
    data = {
        "candidates": [
            {"index": 1, "content": {"parts": [{"text": "second"}]}, "finishReason": "STOP"},
            {"index": 0, "content": {"parts": [{"text": "first"}]}, "finishReason": "STOP"},
        ]
    }
    assert parse_response(data, "m").text == "first"


def test_json_array_chunks_are_split_whatever_the_byte_boundaries() -> None:
    chunks = [_response([{"text": "a"}], None), _response([{"text": "b]},{"}], "STOP")]
    text = " [\r\n" + ",\r\n".join(json.dumps(chunk) for chunk in chunks) + "\r\n]\n"
    splitter = JsonArrayChunks()
    found = [item for char in text for item in splitter.feed(char)]
    assert found == chunks
    assert JsonArrayChunks().feed(json.dumps(chunks[0])) == [chunks[0]]  # one bare object
    with pytest.raises(ValueError):
        JsonArrayChunks().feed("<html>")


# ---------------------------------------------------------------- handcrafted HTTP


Handler = Callable[[httpx2.Request], httpx2.Response]


def _mock(handler: Handler) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=httpx2.MockTransport(handler))


def _sse(*chunks: dict[str, Any] | str) -> bytes:
    return b"".join(
        b"data: " + (chunk if isinstance(chunk, str) else json.dumps(chunk)).encode() + b"\r\n\r\n" for chunk in chunks
    )


def _respond(status: int, body: bytes | str, content_type: str = "application/json", **headers: str) -> Handler:
    content = body.encode() if isinstance(body, str) else body

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, headers={"content-type": content_type, **headers}, content=content)

    return handler


def _google_error(code: int, status: str, *details: dict[str, Any]) -> dict[str, Any]:
    return {"error": {"code": code, "message": f"{status} happened", "status": status, "details": list(details)}}


def _quota(quota_id: str) -> dict[str, Any]:
    return _google_error(
        429,
        "RESOURCE_EXHAUSTED",
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [{"quotaId": quota_id, "quotaValue": "20"}],
        },
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "41.75s"},
    )


PER_DAY = _quota("GenerateRequestsPerDayPerProjectPerModel-FreeTier")
PER_MINUTE = _quota("GenerateRequestsPerMinutePerProjectPerModel-FreeTier")


async def test_a_per_day_429_is_quota_exhausted_until_pacific_midnight() -> None:
    async with _mock(_respond(429, json.dumps(PER_DAY))) as client:
        with pytest.raises(QuotaExhausted) as caught:
            await _adapter(client).complete(_ask())
    error = caught.value
    assert (error.scope, error.resets_at, error.retry_after_s) == ("day", datetime(2026, 11, 29, 8, tzinfo=UTC), None)
    assert (error.status_code, error.provider, error.account, error.model) == (429, "google", "g1", "gemini-2.5-flash")
    assert KEY not in str(error) and KEY not in error.body


async def test_a_per_minute_429_on_a_stream_is_rate_limited_with_its_retry_delay() -> None:
    # without alt=sse Google wraps errors in a JSON array; both layouts are read
    for body in (json.dumps(PER_MINUTE), json.dumps([PER_MINUTE])):
        async with _mock(_respond(429, body)) as client:
            with pytest.raises(RateLimited) as caught:
                await _collect(_adapter(client), _ask())
        assert caught.value.retry_after_s == pytest.approx(41.75)


async def test_a_bare_429_takes_retry_after_from_the_headers() -> None:
    async with _mock(_respond(429, "Too Many Requests", "text/plain", **{"retry-after": "12"})) as client:
        with pytest.raises(RateLimited) as caught:
            await _adapter(client).complete(_ask())
    assert caught.value.retry_after_s == 12.0
    assert caught.value.limits.retry_after_s == 12.0


async def test_an_invalid_key_is_an_auth_failure() -> None:
    body = _google_error(
        400,
        "INVALID_ARGUMENT",
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"},
    )
    async with _mock(_respond(400, json.dumps(body))) as client:
        with pytest.raises(AuthFailed):
            await _adapter(client).complete(_ask())


async def test_an_error_body_with_status_200_is_still_classified() -> None:
    async with _mock(_respond(200, json.dumps(_google_error(503, "UNAVAILABLE")))) as client:
        with pytest.raises(Overloaded):
            await _adapter(client).complete(_ask())


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", "application/json"),
        ("<html>oops</html>", "text/html"),
        ("[1, 2]", "application/json"),
    ],
)
async def test_a_malformed_complete_body_is_a_server_error(body: str, content_type: str) -> None:
    async with _mock(_respond(200, body, content_type)) as client:
        with pytest.raises(ServerError, match="malformed"):
            await _adapter(client).complete(_ask())


async def test_a_json_array_body_to_complete_is_folded_into_one_completion() -> None:
    chunks = [_response([{"text": "Hel"}], None), _response([{"text": "lo"}], "STOP")]
    async with _mock(_respond(200, json.dumps(chunks))) as client:
        assert (await _adapter(client).complete(_ask())).text == "Hello"


async def test_a_stream_cut_before_its_finish_reason_is_a_transport_error_after_its_deltas() -> None:
    body = _sse(_response([{"text": "partial"}], None)) + b'data: {"candidates": [{"con'
    events: list[StreamEvent] = []
    async with _mock(_respond(200, body, "text/event-stream")) as client:
        with pytest.raises(ProviderTransportError, match="truncated"):
            async for event in _adapter(client).stream(_ask()):
                events.append(event)  # noqa: PERF401 - the deltas before the error are the point
    assert events == [TextDelta(text="partial")]


async def test_a_json_array_stream_cut_mid_object_is_a_transport_error() -> None:
    body = "[" + json.dumps(_response([{"text": "a"}], None)) + ',\n{"candidates": ['
    async with _mock(_respond(200, body)) as client:
        with pytest.raises(ProviderTransportError, match="truncated"):
            await _collect(_adapter(client), _ask())


@pytest.mark.parametrize("content_type", ["text/event-stream", "application/json"])
async def test_an_error_chunk_inside_a_200_stream_is_classified(content_type: str) -> None:
    first, error = _response([{"text": "so far"}], None), _google_error(500, "INTERNAL")
    body = _sse(first, error) if content_type == "text/event-stream" else json.dumps([first, error]).encode()
    async with _mock(_respond(200, body, content_type)) as client:
        with pytest.raises(ServerError) as caught:
            await _collect(_adapter(client), _ask())
    assert caught.value.status_code == 500
    assert "malformed" not in caught.value.message


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (_sse("this is not json"), "text/event-stream"),
        (_sse("[1]"), "text/event-stream"),
        (b"<html>Bad gateway</html>", "text/html"),
    ],
)
async def test_a_malformed_stream_is_a_server_error(body: bytes, content_type: str) -> None:
    async with _mock(_respond(200, body, content_type)) as client:
        with pytest.raises(ServerError, match="malformed"):
            await _collect(_adapter(client), _ask())


async def test_a_blocked_prompt_ends_a_stream_with_content_filter() -> None:
    body = _sse({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 4}})
    async with _mock(_respond(200, body, "text/event-stream")) as client:
        events = await _collect(_adapter(client), _ask())
    completion = _check_stream_shape(events)
    assert (completion.finish_reason, completion.usage.input_tokens) == ("content_filter", 4)


async def _trickle(body: bytes, then: Exception | None = None) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 7):
        yield body[start : start + 7]
    if then is not None:
        raise then


async def test_sse_split_at_arbitrary_byte_boundaries_streams_deltas_in_order() -> None:
    body = _sse(
        _response([{"text": "thinking", "thought": True}], None, usageMetadata={"promptTokenCount": 3}),
        _response([{"text": "Hé"}], None),
        _response([{"functionCall": {"name": "f", "args": {"k": [1]}}}], "STOP", usageMetadata={"promptTokenCount": 3}),
    )

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=_trickle(body))

    async with _mock(handler) as client:
        events = await _collect(_adapter(client), _ask())
    assert events[:3] == [
        ReasoningDelta(text="thinking"),
        TextDelta(text="Hé"),
        ToolCallDelta(index=0, id="call_0", name="f", arguments='{"k": [1]}'),
    ]
    completion = _check_stream_shape(events)
    assert (completion.finish_reason, completion.usage.input_tokens) == ("tool_calls", 3)


@pytest.mark.parametrize(
    "failure",
    [
        httpx2.ConnectTimeout("slow"),
        httpx2.ReadTimeout("slow"),
        httpx2.ConnectError("refused"),
        httpx2.RemoteProtocolError("peer closed connection"),
        httpx2.ReadError("reset"),
    ],
)
async def test_transport_failures_become_transport_errors_raised_from_the_cause(failure: Exception) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        raise failure

    async with _mock(handler) as client:
        with pytest.raises(ProviderTransportError) as on_complete:
            await _adapter(client).complete(_ask())
        with pytest.raises(ProviderTransportError) as on_stream:
            await _collect(_adapter(client), _ask())
    assert on_complete.value.__cause__ is failure
    assert on_stream.value.__cause__ is failure


async def test_a_connection_dropped_mid_stream_is_a_transport_error() -> None:
    body = _sse(_response([{"text": "part"}], None))
    dropped = httpx2.RemoteProtocolError("peer closed connection without sending complete message body")

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=_trickle(body, dropped))

    async with _mock(handler) as client:
        with pytest.raises(ProviderTransportError) as caught:
            await _collect(_adapter(client), _ask())
    assert caught.value.__cause__ is dropped


async def test_stopping_a_stream_early_closes_it_cleanly() -> None:
    body = _sse(_response([{"text": "one"}], None), _response([{"text": "two"}], "STOP"))
    async with (
        _mock(_respond(200, body, "text/event-stream")) as client,
        aclosing(_adapter(client).stream(_ask())) as stream,
    ):
        first = await anext(stream)
    assert first == TextDelta(text="one")


@pytest.mark.parametrize(
    ("headers", "limits"),
    [
        ({}, RateLimits()),
        ({"Retry-After": "20"}, RateLimits(retry_after_s=20.0)),
        ({"retry-after-ms": "1500"}, RateLimits(retry_after_s=1.5)),
        ({"x-ratelimit-remaining-requests": "3"}, RateLimits()),
    ],
)
async def test_parse_limits_reads_only_retry_after(headers: dict[str, str], limits: RateLimits) -> None:
    async with httpx2.AsyncClient() as client:
        assert GeminiAdapter(client, _endpoint(), clock=FixedClock()).parse_limits(headers, NOW) == limits


def test_candidates_without_parts_or_a_first_index_add_nothing() -> None:
    no_parts = parse_response({"candidates": [{"content": {"role": "model"}, "finishReason": "SAFETY"}]}, "m")
    assert (no_parts.text, no_parts.finish_reason) == ("", "content_filter")
    only_second = parse_response({"candidates": [{"index": 1, "content": {"parts": [{"text": "x"}]}}]}, "m")
    assert (only_second.text, only_second.raw_finish_reason) == ("", None)


async def test_an_undecodable_gzip_body_is_a_server_error() -> None:
    handler = _respond(200, b"not gzip at all", **{"content-encoding": "gzip"})
    async with _mock(handler) as client:
        with pytest.raises(ServerError, match="undecodable") as caught:
            await _adapter(client).complete(_ask())
    assert isinstance(caught.value.__cause__, httpx2.DecodingError)


_IMAGE = ImagePart(media_type="image/png", data="iVBORw0KGgo=", width=4, height=4, sha256="h", path="shot.png")
_WITH_IMAGE = ChatRequest(model="m", messages=(Message(role="user", content="What is this?", images=(_IMAGE,)),))


def test_an_image_goes_as_an_inline_data_part_after_the_text() -> None:
    body = build_body(_WITH_IMAGE)
    assert body["contents"][0]["parts"] == [
        {"text": "What is this?"},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
    ]
