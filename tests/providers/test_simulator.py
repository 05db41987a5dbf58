"""The loopback simulator: wire formats, quotas, rate-limit windows, faults, lifecycle, subprocess mode."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import httpx2
import pytest
from httpx2 import EventSource
from pydantic import SecretStr

from providers.adapter import ChatAdapter
from providers.anthropic import AnthropicAdapter
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
from providers.gemini import GeminiAdapter
from providers.openai_compat import OpenAICompatAdapter
from providers.simulator import FAULTS, Fault, Flavour, SimAccount, SimSpec, Simulator
from providers.simulator.answers import pieces
from providers.simulator.limits import go_duration
from providers.types import ChatRequest, Endpoint, Message, StreamDone, TextDelta
from providers.vendors import vendor_for
from tests.clock import FixedClock, fixed_epoch

pytestmark = pytest.mark.anyio

OPENAI_FLAVOURS: tuple[Flavour, ...] = ("openai", "zai", "moonshot", "deepseek", "openrouter")
ALL_FLAVOURS: tuple[Flavour, ...] = (*OPENAI_FLAVOURS, "anthropic", "gemini")
PROMPT = "Explain the difference between a list and a tuple in Python, briefly please."


def _account(flavour: Flavour, **fields: Any) -> SimAccount:
    kind = flavour if flavour in ("anthropic", "gemini") else "openai"
    return SimAccount(id=f"{flavour}-1", kind=kind, flavour=flavour, **fields)


class Clock:
    """A settable epoch clock for rate-limit windows."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator([_account(flavour) for flavour in ALL_FLAVOURS], clock=fixed_epoch) as simulator:
        yield simulator


@pytest.fixture
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(5.0)) as client:
        yield client


def _request(
    sim: Simulator, flavour: Flavour, *, stream: bool = False, model: str = "m-1"
) -> tuple[str, dict[str, Any]]:
    """URL and body of a plain generation request on the account of `flavour`."""
    base = sim.base_url(f"{flavour}-1")
    if flavour == "gemini":
        action = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return f"{base}/models/{model}:{action}", {"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]}
    messages = [{"role": "user", "content": PROMPT}]
    if flavour == "anthropic":
        return f"{base}/v1/messages", {"model": model, "max_tokens": 256, "messages": messages, "stream": stream}
    body: dict[str, Any] = {"model": model, "messages": messages, "stream": stream}
    if stream:
        body["stream_options"] = {"include_usage": True}
    return f"{base}/chat/completions", body


async def _post(
    http: httpx2.AsyncClient, sim: Simulator, flavour: Flavour, *, stream: bool = False, model: str = "m-1"
) -> httpx2.Response:
    url, body = _request(sim, flavour, stream=stream, model=model)
    return await http.post(url, json=body)


async def _events(http: httpx2.AsyncClient, url: str, body: dict[str, Any]) -> list[tuple[str, str]]:
    async with http.stream("POST", url, json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return [(event.event, event.data) async for event in EventSource(response)]


# --- lifecycle -------------------------------------------------------------------------------------------------------


async def test_simulator_listens_on_a_free_loopback_port_and_refuses_connections_after_stopping(
    http: httpx2.AsyncClient,
) -> None:
    async with Simulator([_account("openai")], clock=fixed_epoch) as sim:
        assert sim.port > 0
        assert sim.base_url("openai-1") == f"http://127.0.0.1:{sim.port}/openai-1/v1"
        url, body = _request(sim, "openai")
        assert (await http.post(url, json=body)).status_code == 200
    with pytest.raises(httpx2.ConnectError):
        await http.post(url, json=body)


async def test_base_urls_follow_each_wires_layout(sim: Simulator) -> None:
    root = sim.url
    assert sim.base_url("zai-1") == f"{root}/zai-1/v1"
    assert sim.base_url("anthropic-1") == f"{root}/anthropic-1"
    assert sim.base_url("gemini-1") == f"{root}/gemini-1/v1beta"
    with pytest.raises(KeyError, match="nope"):
        sim.base_url("nope")


async def test_unknown_accounts_and_paths_get_404(sim: Simulator, http: httpx2.AsyncClient) -> None:
    assert (await http.post(f"{sim.url}/nobody/v1/chat/completions", json={})).status_code == 404
    assert (await http.post(f"{sim.url}/openai-1/v1/embeddings", json={})).status_code == 404
    assert (await http.post(f"{sim.base_url('gemini-1')}/models/m:countTokens", json={})).status_code == 404


async def test_stopping_does_not_wait_for_a_hung_request(http: httpx2.AsyncClient) -> None:
    outcome: list[BaseException] = []

    async def call(url: str, body: dict[str, Any]) -> None:
        try:
            await http.post(url, json=body, timeout=30)
        except httpx2.TransportError as error:
            outcome.append(error)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg, Simulator([_account("openai")], clock=fixed_epoch) as sim:
            sim.set_down("openai-1", "timeout")
            tg.start_soon(call, *_request(sim, "openai"))
            while not sim.requests("openai-1"):
                await anyio.lowlevel.checkpoint()
    assert len(outcome) == 1


# --- wire formats ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", OPENAI_FLAVOURS)
async def test_openai_kind_answers_a_chat_completion_with_usage(
    sim: Simulator, http: httpx2.AsyncClient, flavour: Flavour
) -> None:
    response = await _post(http, sim, flavour)
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "m-1"
    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"].startswith(f"{flavour}-1 (m-1) answers: Explain the difference")
    usage = body["usage"]
    assert usage["prompt_tokens"] == -(-len(PROMPT) // 4)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > usage["prompt_tokens"]


def _usage_of_openai_stream(flavour: Flavour, chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """Where each flavour really puts usage in a stream; asserts the placement."""
    finish = next(chunk for chunk in chunks if chunk["choices"] and chunk["choices"][0].get("finish_reason"))
    if flavour in ("openai", "deepseek"):
        assert chunks[-1]["choices"] == []
        assert all(chunk["usage"] is None for chunk in chunks[:-1])
        return chunks[-1]["usage"]  # type: ignore[no-any-return]
    if flavour == "zai":
        assert finish is chunks[-1]
        return finish["usage"]  # type: ignore[no-any-return]
    if flavour == "moonshot":
        assert "usage" not in finish
        return finish["choices"][0]["usage"]  # type: ignore[no-any-return]
    assert chunks[-1]["choices"][0]["finish_reason"] is None  # OpenRouter: a usage chunk that keeps its choices
    assert chunks[-1]["usage"]["cost"] > 0
    return chunks[-1]["usage"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("flavour", OPENAI_FLAVOURS)
async def test_openai_kind_streams_chunks_and_done_with_usage_where_the_flavour_puts_it(
    sim: Simulator, http: httpx2.AsyncClient, flavour: Flavour
) -> None:
    events = await _events(http, *_request(sim, flavour, stream=True))
    assert events[-1] == ("message", "[DONE]")
    chunks = [json.loads(data) for _, data in events[:-1]]
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    text = "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks if chunk["choices"])
    assert text.startswith(f"{flavour}-1 (m-1) answers:")
    usage = _usage_of_openai_stream(flavour, chunks)
    assert usage["prompt_tokens"] == -(-len(PROMPT) // 4)
    assert usage["completion_tokens"] == -(-len(text) // 4)


async def test_openai_stream_without_include_usage_sends_no_usage(sim: Simulator, http: httpx2.AsyncClient) -> None:
    url, body = _request(sim, "openai", stream=True)
    del body["stream_options"]
    chunks = [json.loads(data) for _, data in (await _events(http, url, body))[:-1]]
    assert all("usage" not in chunk and chunk["choices"] for chunk in chunks)


async def test_anthropic_answers_a_message_and_streams_its_events_in_order(
    sim: Simulator, http: httpx2.AsyncClient
) -> None:
    whole = (await _post(http, sim, "anthropic")).json()
    assert whole["type"] == "message"
    assert whole["stop_reason"] == "end_turn"
    assert whole["content"][0]["type"] == "text"
    assert whole["usage"]["input_tokens"] == -(-len(PROMPT) // 4)

    events = await _events(http, *_request(sim, "anthropic", stream=True))
    names = [name for name, _ in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(names[3:-3]) == {"content_block_delta"}
    data = [json.loads(payload) for _, payload in events]
    assert all(item["type"] == name for item, (name, _) in zip(data, events, strict=True))
    assert data[0]["message"]["usage"]["output_tokens"] == 1
    text = "".join(item["delta"]["text"] for item in data[3:-3])
    assert text == whole["content"][0]["text"]
    assert data[-2]["usage"] == {
        "input_tokens": whole["usage"]["input_tokens"],
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": whole["usage"]["output_tokens"],
    }


async def test_gemini_answers_and_streams_sse_with_crlf_separators_and_cumulative_usage(
    sim: Simulator, http: httpx2.AsyncClient
) -> None:
    whole = (await _post(http, sim, "gemini")).json()
    assert whole["candidates"][0]["finishReason"] == "STOP"
    assert whole["usageMetadata"]["promptTokenCount"] == -(-len(PROMPT) // 4)

    url, body = _request(sim, "gemini", stream=True)
    raw = (await http.post(url, json=body)).content
    assert raw.endswith(b"\r\n\r\n")
    chunks = [json.loads(frame.removeprefix(b"data: ")) for frame in raw.split(b"\r\n\r\n") if frame]
    assert len(chunks) > 1
    counts = [chunk["usageMetadata"]["candidatesTokenCount"] for chunk in chunks]
    assert counts == sorted(counts)
    assert counts[-1] == whole["usageMetadata"]["candidatesTokenCount"]
    assert [("finishReason" in chunk["candidates"][0]) for chunk in chunks] == [False] * (len(chunks) - 1) + [True]
    text = "".join(chunk["candidates"][0]["content"]["parts"][0]["text"] for chunk in chunks)
    assert text == whole["candidates"][0]["content"]["parts"][0]["text"]


async def test_gemini_stream_without_alt_sse_is_one_json_array(sim: Simulator, http: httpx2.AsyncClient) -> None:
    url, body = _request(sim, "gemini", stream=True)
    response = await http.post(url.removesuffix("?alt=sse"), json=body)
    chunks = response.json()
    assert isinstance(chunks, list)
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"


@pytest.mark.parametrize(
    ("flavour", "finish"),
    [("openai", "length"), ("anthropic", "max_tokens"), ("gemini", "MAX_TOKENS")],
)
async def test_a_max_output_below_the_reply_cuts_it_with_the_wires_length_finish(
    http: httpx2.AsyncClient, flavour: Flavour, finish: str
) -> None:
    async with Simulator([_account(flavour, output_tokens=50)], clock=fixed_epoch) as sim:
        url, body = _request(sim, flavour)
        if flavour == "gemini":
            body["generationConfig"] = {"maxOutputTokens": 3}
        else:
            body["max_tokens"] = 3
        data = (await http.post(url, json=body)).json()
    found = {
        "openai": lambda: (data["choices"][0]["finish_reason"], data["usage"]["completion_tokens"]),
        "anthropic": lambda: (data["stop_reason"], data["usage"]["output_tokens"]),
        "gemini": lambda: (data["candidates"][0]["finishReason"], data["usageMetadata"]["candidatesTokenCount"]),
    }[flavour]()
    assert found == (finish, 3)


async def test_reply_template_and_output_tokens_are_used(http: httpx2.AsyncClient) -> None:
    async with Simulator(
        [_account("openai", reply="{account}/{model}#{n}: {prompt}", output_tokens=42)], clock=fixed_epoch
    ) as sim:
        data = (await _post(http, sim, "openai")).json()
    assert data["choices"][0]["message"]["content"].startswith("openai-1/m-1#1: Explain the")
    assert data["usage"]["completion_tokens"] == 42


def test_reply_pieces_concatenate_back_to_the_reply() -> None:
    for text in ("", "one", "  lead and trail  ", " ".join(str(n) for n in range(50))):
        parts = pieces(text)
        assert "".join(parts) == text
        assert 1 <= len(parts) <= 8


# --- quota, rate limits, models ---------------------------------------------------------------------------------------


def _error_of(flavour: Flavour, body: Any) -> Any:
    return body["error"]


QUOTA_BODIES: dict[Flavour, tuple[int, Callable[[Any], bool]]] = {
    "openai": (429, lambda b: b["error"]["type"] == b["error"]["code"] == "insufficient_quota"),
    "zai": (429, lambda b: b["error"]["code"] == "1113"),
    "moonshot": (429, lambda b: b["error"]["type"] == "exceeded_current_quota_error"),
    "deepseek": (402, lambda b: b["error"]["message"] == "Insufficient Balance"),
    "openrouter": (402, lambda b: b["error"]["code"] == 402),
    "anthropic": (
        429,
        lambda b: (
            b["error"]["type"] == "rate_limit_error"
            and b["error"]["details"]["error_code"] == "enforced_spend_limit_reached"
        ),
    ),
    "gemini": (
        429,
        lambda b: (
            b["error"]["status"] == "RESOURCE_EXHAUSTED"
            and [d["@type"].rsplit(".", 1)[1] for d in b["error"]["details"]] == ["Help", "QuotaFailure", "RetryInfo"]
            and b["error"]["details"][1]["violations"][0]["quotaId"]
            == "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
            and b["error"]["details"][1]["violations"][0]["quotaValue"] == "2"
        ),
    ),
}


@pytest.mark.parametrize("flavour", ALL_FLAVOURS)
async def test_after_the_request_quota_each_flavour_answers_its_real_exhausted_error(
    http: httpx2.AsyncClient, flavour: Flavour
) -> None:
    async with Simulator([_account(flavour, quota_requests=2)], clock=fixed_epoch) as sim:
        url, body = _request(sim, flavour)
        statuses = [(await http.post(url, json=body)).status_code for _ in range(2)]
        exhausted = await http.post(url, json=body)
        again = await http.post(url, json=body)
        stats = sim.stats(f"{flavour}-1")
    assert statuses == [200, 200]
    status, matches = QUOTA_BODIES[flavour]
    assert (exhausted.status_code, again.status_code) == (status, status)
    assert matches(exhausted.json())
    assert "retry-after" not in exhausted.headers
    assert (stats.requests, stats.succeeded, stats.failed) == (4, 2, 2)


RATE_LIMIT_HEADERS: dict[Flavour, tuple[str, str, str]] = {
    "openai": ("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"),
    "anthropic": (
        "anthropic-ratelimit-requests-limit",
        "anthropic-ratelimit-requests-remaining",
        "anthropic-ratelimit-requests-reset",
    ),
    "moonshot": ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"),
}


@pytest.mark.parametrize("flavour", list(RATE_LIMIT_HEADERS))
async def test_rate_limit_headers_count_down_then_the_flavour_answers_429_until_the_minute_is_over(
    http: httpx2.AsyncClient, flavour: Flavour
) -> None:
    clock = Clock()
    limit_name, remaining_name, reset_name = RATE_LIMIT_HEADERS[flavour]
    async with Simulator([_account(flavour, rpm=3)], clock=clock) as sim:
        url, body = _request(sim, flavour)
        answers = []
        for _ in range(4):
            answers.append(await http.post(url, json=body))
            clock.now += 15
        clock.now += 1  # 61 s after the first request: a new window
        after = await http.post(url, json=body)
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert {answer.headers[limit_name] for answer in answers} == {"3"}
    assert [answer.headers[remaining_name] for answer in answers] == ["2", "1", "0", "0"]
    resets = [answer.headers[reset_name] for answer in answers]
    if flavour == "openai":
        assert resets == ["1m0s", "45s", "30s", "15s"]
    elif flavour == "anthropic":
        assert set(resets) == {"2027-01-15T08:01:00Z"}
    else:
        assert set(resets) == {str(int(1_800_000_000 + 60))}
    assert answers[3].headers["retry-after"] == "15"
    assert (after.status_code, after.headers[remaining_name]) == (200, "2")


@pytest.mark.parametrize(
    ("flavour", "matches"),
    [
        ("openai", lambda b: b["error"]["code"] == "rate_limit_exceeded" and b["error"]["type"] == "requests"),
        ("zai", lambda b: b["error"]["code"] == "1302"),
        ("moonshot", lambda b: b["error"]["type"] == "rate_limit_reached_error"),
        ("anthropic", lambda b: b["error"]["type"] == "rate_limit_error" and "details" not in b["error"]),
        ("openrouter", lambda b: b["error"]["code"] == 429 and "raw" in b["error"]["metadata"]),
        (
            "gemini",
            lambda b: (
                b["error"]["details"][1]["violations"][0]["quotaId"]
                == "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
                and b["error"]["details"][2]["retryDelay"] == "7s"
            ),
        ),
    ],
)
async def test_rate_limited_answers_the_flavours_429_with_its_retry_hint(
    http: httpx2.AsyncClient, flavour: Flavour, matches: Callable[[Any], bool]
) -> None:
    async with Simulator([_account(flavour, retry_after_s=7)], clock=fixed_epoch) as sim:
        sim.script(f"{flavour}-1", ["rate_limited", "rate_limited_no_retry_after"])
        url, body = _request(sim, flavour)
        limited = await http.post(url, json=body)
        bare = await http.post(url, json=body)
    assert (limited.status_code, bare.status_code) == (429, 429)
    assert matches(limited.json())
    if flavour == "gemini":  # Google's hint is RetryInfo in the body, never a header
        assert "retry-after" not in limited.headers
        assert "RetryInfo" not in bare.text
    else:
        assert limited.headers["retry-after"] == "7"
    assert "retry-after" not in bare.headers


@pytest.mark.parametrize(
    ("flavour", "missing", "too_long"),
    [
        ("openai", (404, "model_not_found"), (400, "context_length_exceeded")),
        ("zai", (400, "1211"), (400, "1261")),
        ("moonshot", (404, "resource_not_found_error"), (400, "invalid_request_error")),
        ("anthropic", (404, "not_found_error"), (400, "invalid_request_error")),
        ("gemini", (404, "NOT_FOUND"), (400, "INVALID_ARGUMENT")),
    ],
)
async def test_unknown_models_and_prompts_over_the_window_get_the_flavours_errors(
    http: httpx2.AsyncClient, flavour: Flavour, missing: tuple[int, str], too_long: tuple[int, str]
) -> None:
    async with Simulator([_account(flavour, models={"small": 10, "big": 100_000})], clock=fixed_epoch) as sim:
        answers = [await _post(http, sim, flavour, model=model) for model in ("other", "small", "big")]
        listed = await http.get(sim.base_url(f"{flavour}-1") + ("/v1/models" if flavour == "anthropic" else "/models"))
    assert answers[2].status_code == 200
    for answer, (status, marker) in zip(answers[:2], (missing, too_long), strict=True):
        assert answer.status_code == status
        assert marker in json.dumps(answer.json())
    assert "small" in listed.text and "big" in listed.text


async def test_an_account_with_a_key_refuses_other_keys_and_logs_none(http: httpx2.AsyncClient) -> None:
    accounts = [
        SimAccount(id="o", api_key="sk-right"),
        SimAccount(id="a", kind="anthropic", api_key="sk-right"),
        SimAccount(id="g", kind="gemini", api_key="sk-right"),
    ]
    async with Simulator(accounts, clock=fixed_epoch) as sim:
        chat = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        gemini = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
        o_url, a_url = sim.base_url("o") + "/chat/completions", sim.base_url("a") + "/v1/messages"
        g_url = sim.base_url("g") + "/models/m:generateContent"
        right = [
            await http.post(o_url, json=chat, headers={"authorization": "Bearer sk-right"}),
            await http.post(a_url, json=chat | {"max_tokens": 9}, headers={"x-api-key": "sk-right"}),
            await http.post(g_url, json=gemini, headers={"x-goog-api-key": "sk-right"}),
            await http.post(g_url + "?key=sk-right", json=gemini),
        ]
        wrong = [
            await http.post(o_url, json=chat, headers={"authorization": "Bearer sk-wrong"}),
            await http.post(a_url, json=chat | {"max_tokens": 9}),
            await http.post(g_url, json=gemini, headers={"x-goog-api-key": "sk-wrong"}),
        ]
        logged = json.dumps([vars_of(request) for account in ("o", "a", "g") for request in sim.requests(account)])
    assert [answer.status_code for answer in right] == [200, 200, 200, 200]
    assert [answer.status_code for answer in wrong] == [401, 401, 400]
    assert wrong[2].json()["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    assert "sk-right" not in logged and "sk-wrong" not in logged


def vars_of(request: Any) -> dict[str, Any]:
    return {"headers": request.headers, "query": request.query, "path": request.path}


# --- faults ----------------------------------------------------------------------------------------------------------

HTTP_FAULT_STATUS: dict[Fault, dict[Flavour, int]] = {
    "server_error": {},
    "bad_gateway": {},
    "unavailable": {},
    "overloaded": {"anthropic": 529, "moonshot": 429, "zai": 429},
    "auth": {"gemini": 400},
    "model_not_found": {"zai": 400, "deepseek": 400, "openrouter": 400},
    "context_too_long": {},
    "invalid": {},
}
DEFAULT_STATUS: dict[Fault, int] = {
    "server_error": 500,
    "bad_gateway": 502,
    "unavailable": 503,
    "overloaded": 503,
    "auth": 401,
    "model_not_found": 404,
    "context_too_long": 400,
    "invalid": 400,
}


@pytest.mark.parametrize("flavour", ALL_FLAVOURS)
@pytest.mark.parametrize("fault", list(HTTP_FAULT_STATUS))
async def test_http_error_faults_answer_the_flavours_status_and_error_body(
    sim: Simulator, http: httpx2.AsyncClient, flavour: Flavour, fault: Fault
) -> None:
    sim.script(f"{flavour}-1", [fault])
    response = await _post(http, sim, flavour)
    assert response.status_code == HTTP_FAULT_STATUS[fault].get(flavour, DEFAULT_STATUS[fault])
    if fault == "bad_gateway":
        assert response.headers["content-type"] == "text/html"
        return
    body = response.json()
    assert isinstance(body["error"], dict)
    if flavour == "anthropic":
        assert body["type"] == "error"
        assert body["request_id"].startswith("req_")
    if flavour == "gemini":
        assert body["error"]["code"] == response.status_code
        assert body["error"]["status"].isupper()


async def test_reset_is_a_transport_error_for_the_client(sim: Simulator, http: httpx2.AsyncClient) -> None:
    sim.script("openai-1", ["reset", None])
    url, body = _request(sim, "openai")
    with anyio.fail_after(5), pytest.raises(httpx2.TransportError):
        await http.post(url, json=body)
    assert (await http.post(url, json=body)).status_code == 200


async def test_timeout_hangs_until_the_client_gives_up(sim: Simulator, http: httpx2.AsyncClient) -> None:
    sim.script("anthropic-1", ["timeout"])
    url, body = _request(sim, "anthropic")
    with anyio.fail_after(5), pytest.raises(httpx2.TimeoutException):
        await http.post(url, json=body, timeout=0.2)
    assert sim.requests("anthropic-1")[0].status == 0


@pytest.mark.parametrize("stream", [False, True])
async def test_malformed_answers_200_with_a_body_that_is_not_json(
    sim: Simulator, http: httpx2.AsyncClient, stream: bool
) -> None:
    sim.script("openai-1", ["malformed"])
    response = await _post(http, sim, "openai", stream=stream)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        json.loads(response.content)


@pytest.mark.parametrize("flavour", ALL_FLAVOURS)
async def test_error_in_stream_starts_normally_then_sends_the_flavours_error_event(
    sim: Simulator, http: httpx2.AsyncClient, flavour: Flavour
) -> None:
    sim.script(f"{flavour}-1", ["error_in_stream"])
    events = await _events(http, *_request(sim, flavour, stream=True))
    name, last = events[-1]
    error = json.loads(last)
    assert "error" in error
    assert len(events) >= 2
    assert "[DONE]" not in [data for _, data in events]
    if flavour == "anthropic":
        assert (name, error["type"], error["error"]["type"]) == ("error", "error", "overloaded_error")
    if flavour == "openrouter":
        assert error["choices"][0]["finish_reason"] == "error"


TERMINATED: dict[str, Callable[[list[tuple[str, str]]], bool]] = {
    "openai": lambda events: events[-1][1] == "[DONE]",
    "anthropic": lambda events: events[-1][0] == "message_stop",
    "gemini": lambda events: "finishReason" in events[-1][1],
}


@pytest.mark.parametrize("flavour", ["openai", "zai", "anthropic", "gemini"])
async def test_truncated_stream_ends_cleanly_without_the_terminator(
    sim: Simulator, http: httpx2.AsyncClient, flavour: Flavour
) -> None:
    url, body = _request(sim, flavour, stream=True)
    terminated = TERMINATED.get(flavour, TERMINATED["openai"])
    assert terminated(await _events(http, url, body))
    sim.script(f"{flavour}-1", ["truncated_stream"])
    cut = await _events(http, url, body)
    assert cut
    assert not terminated(cut)


async def test_stream_faults_on_whole_body_requests_give_a_cut_body_or_a_server_error(
    sim: Simulator, http: httpx2.AsyncClient
) -> None:
    sim.script("openai-1", ["truncated_stream", "error_in_stream"])
    url, body = _request(sim, "openai")
    cut = await http.post(url, json=body)
    failed = await http.post(url, json=body)
    assert cut.status_code == 200
    with pytest.raises(ValueError):
        json.loads(cut.content)
    assert failed.status_code == 500


async def test_every_fault_is_scriptable(sim: Simulator, http: httpx2.AsyncClient) -> None:
    """A smoke test over FAULTS so a new fault cannot be added without an answer."""
    for fault in FAULTS:
        sim.script("deepseek-1", [fault])
        url, body = _request(sim, "deepseek", stream=True)
        try:
            async with http.stream("POST", url, json=body, timeout=0.2) as response:
                await response.aread()
        except (httpx2.TransportError, httpx2.TimeoutException):
            assert fault in ("reset", "timeout")
    assert [request.fault for request in sim.requests("deepseek-1")] == list(FAULTS)


# --- scripting and observation ---------------------------------------------------------------------------------------


async def test_a_script_applies_to_the_next_requests_in_order_then_answers_normally(
    sim: Simulator, http: httpx2.AsyncClient
) -> None:
    sim.script("openai-1", ["server_error", None, "overloaded"])
    url, body = _request(sim, "openai")
    statuses = [(await http.post(url, json=body)).status_code for _ in range(4)]
    assert statuses == [500, 200, 503, 200]
    assert [request.fault for request in sim.requests("openai-1")] == ["server_error", None, "overloaded", None]


async def test_set_down_fails_every_request_until_cleared(sim: Simulator, http: httpx2.AsyncClient) -> None:
    url, body = _request(sim, "gemini")
    sim.set_down("gemini-1", "unavailable")
    down = [(await http.post(url, json=body)).status_code for _ in range(3)]
    sim.set_down("gemini-1", None)
    assert down == [503, 503, 503]
    assert (await http.post(url, json=body)).status_code == 200


async def test_requests_are_recorded_and_reset_counters_forgets_them_and_the_quota(http: httpx2.AsyncClient) -> None:
    async with Simulator([_account("openai", quota_requests=1)], clock=fixed_epoch) as sim:
        url, body = _request(sim, "openai")
        await http.post(url, json=body, headers={"authorization": "Bearer sk-secret"})
        assert (await http.post(url, json=body)).status_code == 429
        first = sim.requests("openai-1")[0]
        assert (first.path, first.model, first.stream, first.status, first.body) == (
            "/openai-1/v1/chat/completions",
            "m-1",
            False,
            200,
            body,
        )
        assert first.headers["authorization"] == "REDACTED"
        sim.reset_counters()
        assert sim.requests("openai-1") == []
        assert sim.stats("openai-1").requests == 0
        assert (await http.post(url, json=body)).status_code == 200


async def test_configure_changes_an_account_while_running(sim: Simulator, http: httpx2.AsyncClient) -> None:
    sim.configure("openai-1", reply="changed", rpm=5)
    response = await _post(http, sim, "openai")
    assert response.json()["choices"][0]["message"]["content"] == "changed"
    assert response.headers["x-ratelimit-remaining-requests"] == "4"


async def test_an_invalid_body_gets_the_flavours_invalid_request_error(
    sim: Simulator, http: httpx2.AsyncClient
) -> None:
    response = await http.post(sim.base_url("anthropic-1") + "/v1/messages", content=b"{not json")
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    missing_max_tokens = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert (await http.post(sim.base_url("anthropic-1") + "/v1/messages", json=missing_max_tokens)).status_code == 400


async def test_latency_delays_the_answer(http: httpx2.AsyncClient) -> None:
    async with Simulator([_account("openai", latency_ms=150, chunk_latency_ms=10)], clock=fixed_epoch) as sim:
        url, body = _request(sim, "openai", stream=True)
        started = anyio.current_time()
        with anyio.fail_after(5):
            events = await _events(http, url, body)
        elapsed = anyio.current_time() - started
    assert events[-1][1] == "[DONE]"
    assert elapsed >= 0.15


async def test_control_endpoints_script_and_observe_over_http(sim: Simulator, http: httpx2.AsyncClient) -> None:
    control = f"{sim.url}/_sim"
    assert "openai-1" in (await http.get(f"{control}/health")).json()["accounts"]
    assert (await http.post(f"{control}/openai-1/script", json=["auth"])).status_code == 200
    assert (await http.post(f"{control}/openai-1/script", json=["no-such-fault"])).status_code == 400
    assert (await http.post(f"{control}/nobody/script", json=[])).status_code == 404
    url, body = _request(sim, "openai")
    assert (await http.post(url, json=body)).status_code == 401
    await http.post(f"{control}/openai-1/down", json="server_error")
    assert (await http.post(url, json=body)).status_code == 500
    await http.post(f"{control}/openai-1/down", json=None)
    await http.post(f"{control}/openai-1/configure", json={"reply": "remote"})
    assert (await http.post(url, json=body)).json()["choices"][0]["message"]["content"] == "remote"
    assert (await http.get(f"{control}/openai-1/stats")).json() == {"requests": 3, "succeeded": 1, "failed": 2}
    assert len((await http.get(f"{control}/openai-1/requests")).json()) == 3
    await http.post(f"{control}/reset")
    assert sim.stats("openai-1").requests == 0


def test_go_durations_read_like_openais() -> None:
    assert [go_duration(s) for s in (0, 0.002, 0.12, 1, 1.5, 59.998, 60, 86.4, 360)] == [
        "0s",
        "2ms",
        "120ms",
        "1s",
        "1.5s",
        "59.998s",
        "1m0s",
        "1m26.4s",
        "6m0s",
    ]


def test_a_flavour_must_speak_the_accounts_wire() -> None:
    assert SimAccount(id="a", kind="anthropic").flavour == "anthropic"
    assert SimAccount(id="z", flavour="zai").kind == "openai"
    with pytest.raises(ValueError, match="does not speak"):
        SimAccount(id="x", kind="gemini", flavour="zai")
    with pytest.raises(ValueError, match="unique"):
        SimSpec(accounts=(SimAccount(id="x"), SimAccount(id="x")))
    with pytest.raises(ValueError):
        SimAccount(id="_sim")


# --- subprocess mode -------------------------------------------------------------------------------------------------


async def test_subprocess_mode_prints_ready_serves_and_stops_on_sigterm(
    tmp_path: Path, http: httpx2.AsyncClient
) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"accounts": [{"id": "oa", "kind": "openai"}, {"id": "gm", "kind": "gemini"}]}))
    command = [sys.executable, "-m", "providers.simulator", "--spec", str(spec)]
    with anyio.fail_after(20):
        async with await anyio.open_process(command, cwd=Path(__file__).parents[2]) as process:
            assert process.stdout is not None
            line = b""
            while not line.endswith(b"\n"):
                line += await process.stdout.receive(1)
            ready, url = line.decode().split()
            assert ready == "READY"
            assert url.startswith("http://127.0.0.1:")
            body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
            answer = await http.post(f"{url}/oa/v1/chat/completions", json=body)
            assert answer.json()["choices"][0]["message"]["content"] == "oa (m) answers: hi"
            await http.post(f"{url}/_sim/oa/script", json=["quota_exhausted"])
            assert (await http.post(f"{url}/oa/v1/chat/completions", json=body)).status_code == 429
            process.terminate()
            assert await process.wait() == 0


async def test_subprocess_mode_rejects_a_bad_spec_with_a_message(tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text('{"accounts": [{"id": "x", "kind": "nope"}]}')
    command = [sys.executable, "-m", "providers.simulator", "--spec", str(spec)]
    with anyio.fail_after(20):
        result = await anyio.run_process(command, check=False, cwd=Path(__file__).parents[2])
    assert result.returncode == 1
    assert b"cannot load simulator spec" in result.stderr


# --- the real adapters against the simulator ----------------------------------------------------------------------


def _adapter(http: httpx2.AsyncClient, sim: Simulator, flavour: Flavour) -> ChatAdapter:
    vendor = vendor_for(flavour)
    assert vendor is not None
    endpoint = Endpoint(
        provider=vendor.id, account=f"{flavour}-1", base_url=sim.base_url(f"{flavour}-1"), api_key=SecretStr("sk-sim")
    )
    if flavour == "anthropic":
        return AnthropicAdapter(http, endpoint, vendor.options, clock=FixedClock())
    if flavour == "gemini":
        return GeminiAdapter(http, endpoint, vendor.options, clock=FixedClock())
    return OpenAICompatAdapter(http, endpoint, vendor.options, clock=FixedClock())


CHAT = ChatRequest(model="m-1", messages=(Message(role="user", content=PROMPT),), max_output_tokens=200)


#: real provider behaviour the adapters do not read yet: strict xfails, so the day an adapter reads it the test says
#: to drop the entry
_ADAPTER_GAPS = {
    ("openrouter", "model_not_found"): "OpenRouter's unknown model is a bare 400 with no structured field",
    ("openrouter", "context_too_long"): "OpenRouter's context overflow is a bare 400 with no structured field",
}


def _fault_case(flavour: Flavour, fault: Fault) -> Any:
    reason = _ADAPTER_GAPS.get((flavour, fault))
    if reason is None:
        return pytest.param(flavour, fault)
    return pytest.param(flavour, fault, marks=pytest.mark.xfail(reason=reason, strict=True, raises=AssertionError))


@pytest.mark.parametrize("flavour", ALL_FLAVOURS)
async def test_each_adapter_completes_and_streams_against_the_simulator(
    sim: Simulator, http: httpx2.AsyncClient, flavour: Flavour
) -> None:
    adapter = _adapter(http, sim, flavour)
    completion = await adapter.complete(CHAT)
    assert completion.text.startswith(f"{flavour}-1 (m-1) answers: Explain")
    assert completion.finish_reason == "stop"
    assert completion.usage.input_tokens == -(-len(PROMPT) // 4)
    assert completion.usage.output_tokens == -(-len(completion.text) // 4)

    events = [event async for event in adapter.stream(CHAT)]
    done = events[-1]
    assert isinstance(done, StreamDone)
    assert "".join(event.text for event in events if isinstance(event, TextDelta)) == completion.text
    assert done.completion.text == completion.text
    assert done.completion.finish_reason == "stop"
    assert done.completion.usage == completion.usage


#: the error class each fault must become; a 503 whose body says `server_error` may stay a ServerError
ADAPTER_FAULTS: dict[Fault, tuple[type[ProviderError], ...]] = {
    "rate_limited": (RateLimited,),
    "rate_limited_no_retry_after": (RateLimited,),
    "quota_exhausted": (QuotaExhausted,),
    "server_error": (ServerError,),
    "bad_gateway": (ServerError,),
    "unavailable": (Overloaded, ServerError),
    "overloaded": (Overloaded, ServerError),
    "auth": (AuthFailed,),
    "model_not_found": (ModelNotFound,),
    "context_too_long": (ContextTooLong,),
    "invalid": (InvalidRequest,),
    "reset": (ProviderTransportError,),
    "malformed": (ServerError,),
}


@pytest.mark.parametrize(
    ("flavour", "fault"), [_fault_case(flavour, fault) for fault in ADAPTER_FAULTS for flavour in ALL_FLAVOURS]
)
async def test_each_adapter_classifies_the_simulators_faults(
    sim: Simulator, http: httpx2.AsyncClient, flavour: Flavour, fault: Fault
) -> None:
    sim.script(f"{flavour}-1", [fault])
    with anyio.fail_after(5), pytest.raises(ProviderError) as raised:
        await _adapter(http, sim, flavour).complete(CHAT)
    assert isinstance(raised.value, ADAPTER_FAULTS[fault]), raised.value
    if fault == "rate_limited":
        retry_after = raised.value.retry_after_s if isinstance(raised.value, ProviderHTTPError) else None
        assert retry_after == 1


@pytest.mark.parametrize("flavour", ALL_FLAVOURS)
async def test_each_adapter_fails_a_broken_stream(sim: Simulator, http: httpx2.AsyncClient, flavour: Flavour) -> None:
    sim.script(f"{flavour}-1", ["truncated_stream", "error_in_stream", "timeout"])
    adapter = _adapter(http, sim, flavour)
    with anyio.fail_after(5):
        with pytest.raises(ProviderTransportError):
            _ = [event async for event in adapter.stream(CHAT)]
        with pytest.raises((ServerError, Overloaded)):
            _ = [event async for event in adapter.stream(CHAT)]
    async with httpx2.AsyncClient(timeout=0.2) as impatient:
        with anyio.fail_after(5), pytest.raises(ProviderTransportError):
            await _adapter(impatient, sim, flavour).complete(CHAT)


async def test_a_request_that_is_not_http_gets_400_and_the_server_keeps_serving(
    sim: Simulator, http: httpx2.AsyncClient
) -> None:
    with anyio.fail_after(5):
        async with await anyio.connect_tcp("127.0.0.1", sim.port) as raw:
            await raw.send(b"POST /openai-1/v1/chat/completions HTTP/1.1\r\ncontent-length: nope\r\n\r\n")
            assert (await raw.receive()).startswith(b"HTTP/1.1 400 ")
    assert (await _post(http, sim, "openai")).status_code == 200


async def test_a_chunked_request_body_is_read(sim: Simulator, http: httpx2.AsyncClient) -> None:
    url, body = _request(sim, "openai")
    encoded = json.dumps(body).encode()

    async def chunks() -> AsyncIterator[bytes]:
        yield encoded[:10]
        yield encoded[10:]

    response = await http.post(url, content=chunks())
    assert response.status_code == 200
    assert sim.requests("openai-1")[-1].body == body
