"""The OpenAI Chat Completions wire: OpenAI, Z.AI, Moonshot, OpenRouter, DeepSeek, Groq, Ollama, LM Studio, Gemini's
OpenAI endpoint — and any other server speaking it. A new vendor is an `Endpoint` plus `WireOptions`, never code.

The pure translators (`_build_body`, `_parse_response`, `_parse_chunk`, `_map_usage`) hold the wire knowledge;
`complete` and `stream` only move bytes, and `_map_errors` turns every failure into a `providers.errors` class.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import httpx2

from providers.bounded import ResponseTooLarge, capped_events, read_error_text, read_text
from providers.clock import Clock
from providers.errors import CONTENT_ERRORS, ProviderHTTPError, ProviderTransportError, ServerError
from providers.openai_errors import classify_error, classify_payload, find_error
from providers.ratelimits import parse_openai_limits
from providers.redact import redact_secret
from providers.types import (
    ChatRequest,
    Completion,
    Endpoint,
    FinishReason,
    Message,
    RateLimits,
    ReasoningDelta,
    StreamDone,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from providers.usage_check import cost_usd, detail_count, impossible, required_counts
from providers.vendors import WireOptions

Json = dict[str, Any]
_DEFAULT_OPTIONS = WireOptions()
Delta = TextDelta | ReasoningDelta | ToolCallDelta

_FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "eos": "stop",
    "length": "length",
    "model_context_window_exceeded": "length",  # Z.AI
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
    "sensitive": "content_filter",  # Z.AI
    "error": "error",  # OpenRouter
    "network_error": "error",  # Z.AI
    "insufficient_system_resource": "error",  # DeepSeek
}


class _WireError(Exception):
    """A failure found while reading a reply; `_map_errors` translates it into a provider error."""


class _Malformed(_WireError):
    def __init__(self, what: str, status_code: int = 200) -> None:
        super().__init__(what)
        self.status_code = status_code


class _Truncated(_WireError):
    pass


class _ErrorReply(_WireError):
    """An error status, or an error object inside a 200 body or stream."""

    def __init__(
        self, status_code: int, body: str, headers: Mapping[str, str], error: Mapping[str, Any] | None
    ) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code
        self.body = body
        self.headers = headers
        self.error = error


# ---------------------------------------------------------------- request


def _build_body(request: ChatRequest, options: WireOptions, stream: bool) -> Json:
    """The JSON body of a chat completion request for this vendor's wire options."""
    messages: list[Json] = [{"role": "system", "content": request.system}] if request.system else []
    messages.extend(_message(message) for message in request.messages)
    body: Json = {"model": request.model, "messages": messages, "stream": stream}
    if request.max_output_tokens is not None:
        body[options.max_tokens_field] = request.max_output_tokens
    if request.temperature is not None:
        body["temperature"] = min(max(request.temperature, options.temperature_min), options.temperature_max)
    if request.stop:
        body["stop"] = list(request.stop)
    if request.tools:
        body["tools"] = [
            {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
            for t in request.tools
        ]
    if request.json_output:
        body["response_format"] = {"type": "json_object"}
    if stream and options.stream_usage:
        body["stream_options"] = {"include_usage": True}
    return body


def _message(message: Message) -> Json:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    out: Json = {"role": message.role}
    if message.content or not message.tool_calls:
        out["content"] = message.content
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            for call in message.tool_calls
        ]
    return out


# ---------------------------------------------------------------- response


_WHERE = "an OpenAI-compatible reply"


def _map_usage(usage: Any) -> Usage | None:
    """Normalise a `usage` object: `prompt_tokens` already includes cached input, reasoning is part of output.

    None when there is none, or its counts are impossible (see `providers.usage_check`)."""
    if not isinstance(usage, Mapping):
        return None
    counts = required_counts(usage, ("prompt_tokens",), _WHERE)
    if counts is None or impossible(usage, "completion_tokens", _WHERE):
        return None
    prompt, completion = counts[0], detail_count(usage, "completion_tokens", _WHERE)
    prompt_details = usage.get("prompt_tokens_details")
    prompt_details = prompt_details if isinstance(prompt_details, Mapping) else {}
    completion_details = usage.get("completion_tokens_details")
    completion_details = completion_details if isinstance(completion_details, Mapping) else {}
    reasoning = detail_count(completion_details, "reasoning_tokens", _WHERE)
    # Gemini's OpenAI endpoint leaves thinking out of completion_tokens but counts it in total_tokens
    unreported = detail_count(usage, "total_tokens", _WHERE) - prompt - completion
    if unreported > 0:
        completion += unreported
        reasoning += unreported
    return Usage(
        input_tokens=prompt,
        output_tokens=completion,
        # OpenAI/Z.AI: prompt_tokens_details.cached_tokens; DeepSeek: prompt_cache_hit_tokens; Moonshot: cached_tokens
        cache_read_tokens=max(
            detail_count(prompt_details, "cached_tokens", _WHERE),
            detail_count(usage, "prompt_cache_hit_tokens", _WHERE),
            detail_count(usage, "cached_tokens", _WHERE),
        ),
        cache_write_tokens=detail_count(prompt_details, "cache_write_tokens", _WHERE),
        reasoning_tokens=reasoning,
    )


def _reported_cost(usage: Any) -> float | None:
    return cost_usd(usage.get("cost"), _WHERE) if isinstance(usage, Mapping) else None


def _finish(raw: str | None, has_tool_calls: bool) -> FinishReason:
    if raw is None:
        return "tool_calls" if has_tool_calls else "stop"
    mapped = _FINISH_REASONS.get(raw, "other")
    # some servers end a turn of tool calls with "stop"; what the model asked for is what counts
    return "tool_calls" if mapped == "stop" and has_tool_calls else mapped


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts, as a few servers return them
        return "".join(p["text"] for p in content if isinstance(p, Mapping) and isinstance(p.get("text"), str))
    return ""


def _reasoning_of(message: Mapping[str, Any]) -> str:
    # Z.AI, DeepSeek and Moonshot say reasoning_content; Groq, OpenRouter and Ollama say reasoning
    for key in ("reasoning_content", "reasoning"):
        value = message.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def _call_id(raw: Any) -> str:
    # Gemini's OpenAI endpoint sends "" for every id; the conversation still needs one to pair the result
    return raw if isinstance(raw, str) and raw else f"call_{uuid.uuid4().hex[:24]}"


def _tool_call(raw: Any) -> ToolCall:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("function"), Mapping):
        raise _Malformed("tool call without a function")
    function = raw["function"]
    arguments = function.get("arguments")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments if arguments is not None else {})
    return ToolCall(id=_call_id(raw.get("id")), name=str(function.get("name") or ""), arguments=arguments or "{}")


def _raise_inline_error(data: Any) -> None:
    error = find_error(data)
    if error is not None:
        raise _ErrorReply(200, json.dumps(data, default=str), {}, error)


def _parse_response(data: Any, *, model: str = "") -> Completion:
    """A non-streamed chat completion body -> Completion (rate limits are added from the headers by the caller)."""
    _raise_inline_error(data)
    if not isinstance(data, Mapping):
        raise _Malformed("body is not a JSON object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        raise _Malformed("body has no choices")
    message = choices[0].get("message")
    if not isinstance(message, Mapping):
        raise _Malformed("choice has no message")
    raw_calls = message.get("tool_calls")
    tool_calls = tuple(_tool_call(call) for call in raw_calls) if isinstance(raw_calls, list) else ()
    raw_finish = choices[0].get("finish_reason")
    raw_finish = raw_finish if isinstance(raw_finish, str) else None
    reasoning = _reasoning_of(message)
    usage = _map_usage(data.get("usage"))
    return Completion(
        text=_text(message.get("content")) or _text(message.get("refusal")),
        tool_calls=tool_calls,
        finish_reason=_finish(raw_finish, bool(tool_calls)),
        raw_finish_reason=raw_finish,
        usage=usage or Usage(),
        usage_missing=usage is None,
        model=str(data.get("model") or model),
        reasoning=reasoning or None,
        reported_cost_usd=_reported_cost(data.get("usage")),
    )


# ---------------------------------------------------------------- stream


@dataclass(frozen=True)
class _Chunk:
    """What one `chat.completion.chunk` carries for the first choice."""

    reasoning: str = ""
    text: str = ""
    tool_calls: tuple[Json, ...] = ()
    finish_reason: str | None = None
    usage: Mapping[str, Any] | None = None
    model: str | None = None


def _parse_chunk(data: Any) -> _Chunk:
    """One decoded SSE `data:` payload -> its parts; an `error` object inside a 200 stream is raised."""
    _raise_inline_error(data)
    if not isinstance(data, Mapping):
        raise _Malformed("stream chunk is not a JSON object")
    usage = data.get("usage")
    model = data.get("model")
    chunk = _Chunk(usage=usage if isinstance(usage, Mapping) else None, model=model if isinstance(model, str) else None)
    choices = data.get("choices")
    # the usage-only chunk before [DONE] has `choices: []`; other servers put usage on any chunk
    first = next((c for c in choices if isinstance(c, Mapping) and c.get("index", 0) == 0), None) if choices else None
    if first is None:
        return chunk
    delta = first.get("delta")
    delta = delta if isinstance(delta, Mapping) else {}
    calls = delta.get("tool_calls")
    finish = first.get("finish_reason")
    # Moonshot streams its usage inside the finishing choice rather than at the top level
    choice_usage = first.get("usage")
    if chunk.usage is None and isinstance(choice_usage, Mapping):
        chunk = _Chunk(usage=choice_usage, model=chunk.model)
    return _Chunk(
        reasoning=_reasoning_of(delta),
        text=_text(delta.get("content")),
        tool_calls=tuple(dict(c) for c in calls if isinstance(c, Mapping)) if isinstance(calls, list) else (),
        finish_reason=finish if isinstance(finish, str) else None,
        usage=chunk.usage,
        model=chunk.model,
    )


@dataclass
class _PartialCall:
    id: str | None = None
    name: str | None = None
    arguments: list[str] = field(default_factory=list[str])


@dataclass
class _StreamState:
    """Assembles chunks into the final Completion while turning them into normalised deltas."""

    model: str
    text: list[str] = field(default_factory=list[str])
    reasoning: list[str] = field(default_factory=list[str])
    calls: dict[int, _PartialCall] = field(default_factory=dict[int, _PartialCall])
    finish_reason: str | None = None
    usage: Mapping[str, Any] | None = None
    done: bool = False

    def apply(self, chunk: _Chunk) -> list[Delta]:
        events: list[Delta] = []
        if chunk.model:
            self.model = chunk.model
        if chunk.usage is not None:
            self.usage = chunk.usage  # servers that repeat usage on every chunk send it cumulatively: keep the last
        if chunk.finish_reason is not None:
            self.finish_reason = chunk.finish_reason
        if chunk.reasoning:
            self.reasoning.append(chunk.reasoning)
            events.append(ReasoningDelta(text=chunk.reasoning))
        if chunk.text:
            self.text.append(chunk.text)
            events.append(TextDelta(text=chunk.text))
        events.extend(self._tool_call(raw) for raw in chunk.tool_calls)
        return events

    def _tool_call(self, raw: Json) -> ToolCallDelta:
        function = raw.get("function")
        function = function if isinstance(function, Mapping) else {}
        call_id = raw.get("id") if isinstance(raw.get("id"), str) and raw.get("id") else None
        name = function.get("name") if isinstance(function.get("name"), str) and function.get("name") else None
        index = raw.get("index")
        if not isinstance(index, int):
            # without an index, a fragment naming a call starts a new one; a bare one continues the last
            index = max(self.calls, default=-1) + 1 if (call_id or name or not self.calls) else max(self.calls)
        partial = self.calls.setdefault(index, _PartialCall())
        # several servers repeat id and name on every fragment: announce each once, never concatenate them
        new_id = call_id if call_id and partial.id is None else None
        new_name = name if name and partial.name is None else None
        partial.id = partial.id or new_id
        partial.name = partial.name or new_name
        arguments = function.get("arguments")
        fragment = arguments if isinstance(arguments, str) else json.dumps(arguments) if arguments else ""
        partial.arguments.append(fragment)
        return ToolCallDelta(index=index, id=new_id, name=new_name, arguments=fragment)

    def completion(self, rate_limits: RateLimits) -> Completion:
        if self.finish_reason is None and not self.done:
            raise _Truncated("truncated stream: it ended before a finish_reason or [DONE]")
        tool_calls = tuple(
            ToolCall(id=_call_id(c.id), name=c.name or "", arguments="".join(c.arguments) or "{}")
            for _, c in sorted(self.calls.items())
        )
        usage = _map_usage(self.usage)
        return Completion(
            text="".join(self.text),
            tool_calls=tool_calls,
            finish_reason=_finish(self.finish_reason, bool(tool_calls)),
            raw_finish_reason=self.finish_reason,
            usage=usage or Usage(),
            usage_missing=usage is None,
            model=self.model,
            reasoning="".join(self.reasoning) or None,
            rate_limits=rate_limits,
            reported_cost_usd=_reported_cost(self.usage),
        )


def _decode(text: str, what: str, status_code: int = 200) -> Any:
    try:
        return json.loads(text)
    except ValueError as e:
        raise _Malformed(f"malformed {what}: not JSON", status_code) from e


def _deltas_of(completion: Completion) -> list[Delta]:
    events: list[Delta] = [ReasoningDelta(text=completion.reasoning)] if completion.reasoning else []
    if completion.text:
        events.append(TextDelta(text=completion.text))
    events.extend(
        ToolCallDelta(index=i, id=c.id, name=c.name, arguments=c.arguments) for i, c in enumerate(completion.tool_calls)
    )
    return events


# ---------------------------------------------------------------- adapter


class OpenAICompatAdapter:
    """One OpenAI-compatible endpoint (an account of a vendor) over an injected `httpx2.AsyncClient`.

    Every failure is raised as a `providers.errors.ProviderError` subclass; see `providers.openai_errors` for how
    error bodies are classified.
    """

    def __init__(
        self,
        http: httpx2.AsyncClient,
        endpoint: Endpoint,
        options: WireOptions = _DEFAULT_OPTIONS,
        *,
        clock: Clock,
    ) -> None:
        self._http = http
        self._endpoint = endpoint
        self._options = options
        self._clock = clock
        self._url = f"{endpoint.base_url.rstrip('/')}/chat/completions"

    def _headers(self) -> dict[str, str]:
        headers = dict(self._endpoint.extra_headers)
        if self._endpoint.api_key is not None:
            headers["Authorization"] = f"Bearer {self._endpoint.api_key.get_secret_value()}"
        return headers

    def parse_limits(self, headers: Mapping[str, str], now: datetime) -> RateLimits:
        """What the response headers say about this account's rate limits (names read case-insensitively)."""
        return parse_openai_limits(headers, now)

    async def complete(self, request: ChatRequest) -> Completion:
        """One non-streamed chat completion.

        Raises:
            ProviderHTTPError: a subclass naming what went wrong (rate limit, quota, auth, bad request, …).
            ProviderTransportError: timeout, connection failure or a dropped connection.
        """
        body = _build_body(request, self._options, stream=False)
        limit = self._endpoint.max_response_bytes
        with self._map_errors(request.model):
            async with self._http.stream("POST", self._url, json=body, headers=self._headers()) as response:
                if not response.is_success:
                    raise _ErrorReply(response.status_code, await read_error_text(response), response.headers, None)
                text = await read_text(response, limit)
            completion = _parse_response(_decode(text, "response body"), model=request.model)
        return completion.model_copy(update={"rate_limits": self.parse_limits(response.headers, self._clock())})

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Yield deltas as they arrive, then one `StreamDone` with the assembled completion.

        Raises:
            ProviderHTTPError: an error status, or an error chunk / malformed data inside a 200 stream.
            ProviderTransportError: timeout, connection failure, or a stream cut before it finished.
        """
        body = _build_body(request, self._options, stream=True)
        # StreamDone is yielded only after the response is read to its end and closed: the caller stops at
        # StreamDone, and a response closed half-read closes its connection instead of returning it to the pool.
        with self._map_errors(request.model):
            async with self._http.stream("POST", self._url, json=body, headers=self._headers()) as response:
                if not response.is_success:
                    raise _ErrorReply(response.status_code, await read_error_text(response), response.headers, None)
                limits = self.parse_limits(response.headers, self._clock())
                if _is_json(response):
                    # a server that ignored `stream` (or answered with an error object) sent one JSON body
                    text = await read_text(response, self._endpoint.max_response_bytes)
                    completion = _parse_response(_decode(text, "response body"), model=request.model)
                    for event in _deltas_of(completion):
                        yield event
                    completion = completion.model_copy(update={"rate_limits": limits})
                else:
                    state = _StreamState(model=request.model)
                    async for sse in capped_events(response, self._endpoint.max_response_bytes):
                        # read on past [DONE] to the end of the body (see above)
                        for event in _sse_deltas(state, sse):
                            yield event
                    completion = state.completion(limits)
        yield StreamDone(completion=completion)

    @contextmanager
    def _map_errors(self, model: str) -> Iterator[None]:
        """The one place where wire and transport failures become `providers.errors` classes."""
        provider, account = self._endpoint.provider, self._endpoint.account
        try:
            yield
        except _ErrorReply as e:
            raise self._http_error(e, model) from e
        except (_Malformed, ResponseTooLarge, httpx2.SSEError, httpx2.DecodingError, *CONTENT_ERRORS) as e:
            # a reply that cannot be understood (impossible values included) is the server's fault: fail over
            status = e.status_code if isinstance(e, _Malformed) else 200
            message = self._redact(f"malformed reply: {e}")
            raise ServerError(message, provider=provider, account=account, model=model, status_code=status) from e
        except (_Truncated, httpx2.TransportError) as e:
            # a timeout, a refused/reset connection, or a stream cut short: the server never finished answering
            message = str(e) if isinstance(e, _Truncated) else f"{type(e).__name__}: {e}"
            raise ProviderTransportError(self._redact(message), provider=provider, account=account, model=model) from e

    def _http_error(self, reply: _ErrorReply, model: str) -> ProviderHTTPError:
        now = self._clock()
        if reply.error is not None:
            verdict = classify_payload(reply.status_code, reply.error, reply.headers, now)
        else:
            verdict = classify_error(reply.status_code, reply.body, reply.headers, now)
        return replace(verdict, message=self._redact(verdict.message)).to_exception(
            provider=self._endpoint.provider,
            account=self._endpoint.account,
            model=model,
            status_code=verdict.status_code or reply.status_code,
            body=self._redact(reply.body),
            limits=self.parse_limits(reply.headers, now),
        )

    def _redact(self, text: str) -> str:
        key = self._endpoint.api_key.get_secret_value() if self._endpoint.api_key is not None else None
        return redact_secret(text, key)


def _is_json(response: httpx2.Response) -> bool:
    content_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    return content_type == "application/json"


def _sse_deltas(state: _StreamState, sse: httpx2.ServerSentEvent) -> list[Delta]:
    """The deltas of one server-sent event; nothing after `[DONE]`."""
    data = sse.data.strip()
    if state.done or not data:
        return []
    if data == "[DONE]":
        state.done = True
        return []
    if sse.event == "error":
        raise _ErrorReply(200, data, {}, find_error(_decode(data, "error event")))
    return state.apply(_parse_chunk(_decode(data, "stream chunk")))
