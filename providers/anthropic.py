"""The Anthropic Messages wire (`POST {base_url}/v1/messages`).

One adapter serves Anthropic itself and the Anthropic-compatible endpoints of other vendors (Z.AI's
`https://api.z.ai/api/anthropic`, Moonshot's `https://api.moonshot.ai/anthropic`): only the base URL differs.

Pure translation (`_build_body`, `_parse_response`, `_map_usage`, `_parse_sse_event`, `parse_anthropic_limits`)
is kept apart from I/O (`complete`, `stream`); every failure is translated once, in `_map_errors`, and error
bodies are classified by `providers.anthropic_errors`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import httpx2

from providers.anthropic_errors import (
    classify_anthropic_error,
    classify_error_object,
)
from providers.bounded import ResponseTooLarge, capped_events, read_error_text, read_text
from providers.clock import Clock
from providers.errors import CONTENT_ERRORS, ErrorVerdict, ProviderHTTPError, ProviderTransportError, ServerError
from providers.ratelimits import parse_anthropic_limits
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
    ToolSpec,
    Usage,
)
from providers.usage_check import detail_count, impossible, required_counts
from providers.vendors import WireOptions

ANTHROPIC_VERSION = "2023-06-01"

#: `max_tokens` is required on this wire; this is sent when the request sets none. Every current Claude model
#: (and the GLM/Kimi models behind the compatible endpoints) accepts it, and it bounds a runaway answer's cost.
DEFAULT_MAX_TOKENS = 4096

#: the range the Messages API accepts, whatever the vendor options allow
_WIRE_TEMPERATURE = (0.0, 1.0)

#: Anthropic has no JSON mode on this API version; the request's wish is passed as an instruction
_JSON_INSTRUCTION = "Respond with a single valid JSON value and nothing else."

#: the Messages API caps temperature at 1
DEFAULT_OPTIONS = WireOptions(temperature_max=1.0)
_NO_LIMITS = RateLimits()

_FINISH_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "other",
}


# --- request -------------------------------------------------------------------------------------------------


def _build_body(request: ChatRequest, options: WireOptions, stream: bool) -> dict[str, Any]:
    """The JSON body of a Messages call for `request`."""
    system_parts = [request.system] if request.system else []
    # the wire has no system role inside `messages`: such turns join the top-level system prompt
    system_parts += [message.content for message in request.messages if message.role == "system" and message.content]
    if request.json_output:
        system_parts.append(_JSON_INSTRUCTION)
    body: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_output_tokens or DEFAULT_MAX_TOKENS,
        "messages": _convert_messages(request.messages),
    }
    if system_parts:
        body["system"] = "\n\n".join(system_parts)
    if request.temperature is not None:
        low = max(_WIRE_TEMPERATURE[0], options.temperature_min)
        high = min(_WIRE_TEMPERATURE[1], options.temperature_max)
        body["temperature"] = min(max(request.temperature, low), high)
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if request.tools:
        body["tools"] = [_tool(tool) for tool in request.tools]
    if stream:
        body["stream"] = True
    return body


def _tool(tool: ToolSpec) -> dict[str, Any]:
    return {"name": tool.name, "description": tool.description, "input_schema": tool.parameters}


def _convert_messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """Provider-neutral turns as Messages turns: tool results become user turns, and same-role turns merge
    because the wire requires user and assistant to alternate."""
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        blocks = _blocks(message)
        if not blocks:
            continue
        role = "assistant" if message.role == "assistant" else "user"
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        if turn["role"] == "user":
            # a user turn must open with its tool_result blocks; the sort is stable, so order is kept otherwise
            turn["content"].sort(key=lambda block: block["type"] != "tool_result")
    return turns


def _blocks(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id or ""}
        if message.content:
            result["content"] = message.content
        return [result]
    # the API rejects empty and whitespace-only text blocks
    blocks: list[dict[str, Any]] = [{"type": "text", "text": message.content}] if message.content.strip() else []
    if message.role == "assistant":
        blocks += [
            {"type": "tool_use", "id": call.id, "name": call.name, "input": _tool_input(call.arguments)}
            for call in message.tool_calls
        ]
    return blocks


def _tool_input(arguments: str) -> dict[str, Any]:
    """A tool call's JSON arguments as the object the wire wants; anything unparsable or not an object is {}."""
    try:
        parsed = json.loads(arguments)
    except (json.JSONDecodeError, RecursionError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


# --- response ------------------------------------------------------------------------------------------------


def _finish_reason(raw: object) -> FinishReason:
    return _FINISH_REASONS.get(raw, "other") if isinstance(raw, str) else "other"


_WHERE = "an Anthropic reply"


def _map_usage(usage: Mapping[str, Any] | None) -> Usage | None:
    """Anthropic usage, normalised: its `input_tokens` EXCLUDES cached input, ours includes reads and writes.

    None when there is none, or its counts are impossible (see `providers.usage_check`)."""
    counts = required_counts(usage, ("input_tokens",), _WHERE) if usage else None
    if usage is None or counts is None or impossible(usage, "output_tokens", _WHERE):
        return None
    cache_read = detail_count(usage, "cache_read_input_tokens", _WHERE)
    cache_write = detail_count(usage, "cache_creation_input_tokens", _WHERE)
    return Usage(
        input_tokens=counts[0] + cache_read + cache_write,
        output_tokens=detail_count(usage, "output_tokens", _WHERE),
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
    )


def _parse_response(
    data: Mapping[str, Any], *, fallback_model: str, rate_limits: RateLimits = _NO_LIMITS
) -> Completion:
    """A non-streamed Messages response as a `Completion`."""
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[ToolCall] = []
    content = data.get("content")
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text") or ""))
        elif kind == "thinking":
            reasoning.append(str(block.get("thinking") or ""))
        elif kind == "tool_use":
            calls.append(
                ToolCall(
                    id=str(block.get("id") or ""),
                    name=str(block.get("name") or ""),
                    arguments=json.dumps(block.get("input") or {}),
                )
            )
    raw_reason = data.get("stop_reason")
    raw_usage = data.get("usage")
    usage = _map_usage(raw_usage if isinstance(raw_usage, dict) else None)
    return Completion(
        text="".join(texts),
        tool_calls=tuple(calls),
        finish_reason=_finish_reason(raw_reason),
        raw_finish_reason=raw_reason if isinstance(raw_reason, str) else None,
        usage=usage or Usage(),
        usage_missing=usage is None,
        model=str(data.get("model") or fallback_model),
        reasoning="".join(reasoning) or None,
        rate_limits=rate_limits,
    )


# --- streaming -----------------------------------------------------------------------------------------------


class _StreamFault(Exception):
    """A problem found while reading a response; `_map_errors` turns it into a `ProviderError`."""


class _Malformed(_StreamFault):
    pass


class _Truncated(_StreamFault):
    pass


class _ErrorEvent(_StreamFault):
    def __init__(self, payload: Mapping[str, Any], data: str) -> None:
        super().__init__("error event")
        self.payload = payload
        self.data = data


@dataclass
class _Block:
    kind: str
    parts: list[str] = field(default_factory=list[str])
    tool_index: int = -1
    tool_id: str = ""
    tool_name: str = ""
    start_input: Any = None

    @property
    def arguments(self) -> str:
        joined = "".join(self.parts)
        # tool_use starts with `input: {}` and streams the real object as input_json_delta fragments
        return joined if joined.strip() else json.dumps(self.start_input or {})


@dataclass
class _StreamState:
    """What a stream has said so far; `completion()` assembles the final answer."""

    model: str
    usage: dict[str, Any] = field(default_factory=dict[str, Any])
    blocks: dict[int, _Block] = field(default_factory=dict[int, _Block])
    tool_count: int = 0
    stop_reason: str | None = None
    stopped: bool = False

    def completion(self, rate_limits: RateLimits) -> Completion:
        if not self.stopped and self.stop_reason is None:
            raise _Truncated("the stream ended before message_stop")
        blocks = list(self.blocks.values())
        usage = _map_usage(self.usage)
        return Completion(
            text="".join("".join(block.parts) for block in blocks if block.kind == "text"),
            tool_calls=tuple(
                ToolCall(id=block.tool_id, name=block.tool_name, arguments=block.arguments)
                for block in blocks
                if block.kind == "tool_use"
            ),
            finish_reason=_finish_reason(self.stop_reason),
            raw_finish_reason=self.stop_reason,
            usage=usage or Usage(),
            usage_missing=usage is None,
            model=self.model,
            reasoning="".join("".join(block.parts) for block in blocks if block.kind == "thinking") or None,
            rate_limits=rate_limits,
        )


def _merge_usage(state: _StreamState, usage: object) -> None:
    # message_delta usage is cumulative: later values replace earlier ones, and nulls say nothing
    if isinstance(usage, dict):
        state.usage.update({key: value for key, value in usage.items() if value is not None})


def _on_message_start(state: _StreamState, payload: Mapping[str, Any]) -> list[StreamEvent]:
    message = payload.get("message")
    if isinstance(message, dict):
        if isinstance(message.get("model"), str) and message["model"]:
            state.model = message["model"]
        _merge_usage(state, message.get("usage"))
    return []


def _block_index(payload: Mapping[str, Any]) -> int:
    index = payload.get("index")
    if isinstance(index, bool) or not isinstance(index, int):
        raise _Malformed(f"{payload.get('type')} without an integer index")
    return index


def _on_block_start(state: _StreamState, payload: Mapping[str, Any]) -> list[StreamEvent]:
    index = _block_index(payload)
    start = payload.get("content_block")
    start = start if isinstance(start, dict) else {}
    kind = str(start.get("type") or "")
    block = _Block(kind=kind)
    state.blocks[index] = block
    if kind == "tool_use":
        block.tool_index, state.tool_count = state.tool_count, state.tool_count + 1
        block.tool_id, block.tool_name = str(start.get("id") or ""), str(start.get("name") or "")
        block.start_input = start.get("input")
        return [ToolCallDelta(index=block.tool_index, id=block.tool_id, name=block.tool_name)]
    initial = start.get("text") if kind == "text" else start.get("thinking") if kind == "thinking" else None
    return _append(block, initial)


def _append(block: _Block, text: object) -> list[StreamEvent]:
    if not isinstance(text, str) or not text:
        return []
    block.parts.append(text)
    if block.kind == "text":
        return [TextDelta(text=text)]
    if block.kind == "thinking":
        return [ReasoningDelta(text=text)]
    return [ToolCallDelta(index=block.tool_index, arguments=text)]


#: delta type -> (the block kind it belongs to, the field holding its text); signature_delta and others are
#: deliberately absent: they carry nothing the router keeps
_DELTA_FIELDS: dict[str, tuple[str, str]] = {
    "text_delta": ("text", "text"),
    "thinking_delta": ("thinking", "thinking"),
    "input_json_delta": ("tool_use", "partial_json"),
}


def _on_block_delta(state: _StreamState, payload: Mapping[str, Any]) -> list[StreamEvent]:
    index = _block_index(payload)
    block = state.blocks.get(index)
    if block is None:
        raise _Malformed(f"content_block_delta for block {index}, which never started")
    delta = payload.get("delta")
    delta = delta if isinstance(delta, dict) else {}
    kind_and_field = _DELTA_FIELDS.get(str(delta.get("type")))
    if kind_and_field is None or kind_and_field[0] != block.kind:
        return []
    return _append(block, delta.get(kind_and_field[1]))


def _on_block_stop(state: _StreamState, payload: Mapping[str, Any]) -> list[StreamEvent]:
    block = state.blocks.get(_block_index(payload))
    if block is not None and block.kind == "tool_use" and not "".join(block.parts).strip() and block.start_input:
        # a compatible server may send the whole input at block start and no fragments
        return [ToolCallDelta(index=block.tool_index, arguments=block.arguments)]
    return []


def _on_message_delta(state: _StreamState, payload: Mapping[str, Any]) -> list[StreamEvent]:
    delta = payload.get("delta")
    if isinstance(delta, dict) and isinstance(delta.get("stop_reason"), str):
        state.stop_reason = delta["stop_reason"]
    _merge_usage(state, payload.get("usage"))
    return []


def _on_message_stop(state: _StreamState, payload: Mapping[str, Any]) -> list[StreamEvent]:
    state.stopped = True
    return []


_HANDLERS: dict[str, Callable[[_StreamState, Mapping[str, Any]], list[StreamEvent]]] = {
    "message_start": _on_message_start,
    "content_block_start": _on_block_start,
    "content_block_delta": _on_block_delta,
    "content_block_stop": _on_block_stop,
    "message_delta": _on_message_delta,
    "message_stop": _on_message_stop,
}


def _parse_sse_event(state: _StreamState, event: str, data: str) -> list[StreamEvent]:
    """Fold one server-sent event into `state`, returning the deltas it carries.

    Raises `_ErrorEvent` for `event: error`, `_Malformed` for data that is not a JSON object. Unknown event
    types are ignored: the wire adds new ones over time.
    """
    if event == "ping" or not data.strip():
        return []
    try:
        payload = json.loads(data)
    except (json.JSONDecodeError, RecursionError) as e:
        raise _Malformed(f"non-JSON data in a {event!r} event") from e
    if not isinstance(payload, dict):
        raise _Malformed(f"a {event!r} event whose data is not a JSON object")
    kind = "error" if event == "error" else str(payload.get("type") or event)
    if kind == "error":
        raise _ErrorEvent(payload, data)
    handler = _HANDLERS.get(kind)
    return handler(state, payload) if handler else []


# --- rate limits ---------------------------------------------------------------------------------------------


# --- the adapter ---------------------------------------------------------------------------------------------


class AnthropicAdapter:
    """The Messages wire bound to one endpoint over an injected `httpx2.AsyncClient` (a `ChatAdapter`).

    `clock` gives "now" for rate-limit resets and the spend cap's reset; tests inject a fixed one.
    """

    def __init__(
        self,
        http: httpx2.AsyncClient,
        endpoint: Endpoint,
        options: WireOptions = DEFAULT_OPTIONS,
        *,
        clock: Clock,
    ) -> None:
        self._http = http
        self._endpoint = endpoint
        self._options = options
        self._clock = clock
        self._url = f"{endpoint.base_url.rstrip('/')}/v1/messages"

    async def complete(self, request: ChatRequest) -> Completion:
        """One non-streamed call.

        Raises:
            ProviderHTTPError: a subclass chosen from the error body (see `providers.anthropic_errors`);
                `ServerError` for a 200 whose body is not a Messages object.
            ProviderTransportError: timeouts, refused or reset connections.
        """
        body = _build_body(request, self._options, stream=False)
        with self._map_errors(request.model):
            async with self._http.stream("POST", self._url, json=body, headers=self._headers()) as response:
                now = self._clock()
                if not response.is_success:
                    raise self._status_error(response, await read_error_text(response), request.model, now)
                text = await read_text(response, self._endpoint.max_response_bytes)
            data = _decode_object(text)
            if data.get("type") == "error":
                raise _ErrorEvent(data, text)
            return _parse_response(
                data, fallback_model=request.model, rate_limits=self.parse_limits(response.headers, now)
            )

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Yield text, reasoning and tool-call deltas as they arrive, then one `StreamDone`.

        Raises:
            ProviderHTTPError: for an error status, or an `event: error` inside the 200 stream (classified by
                its `error.type`); `ServerError` for data that is not JSON.
            ProviderTransportError: transport failures, and a stream that ends before `message_stop`.
        """
        body = _build_body(request, self._options, stream=True)
        with self._map_errors(request.model):
            async with self._http.stream("POST", self._url, json=body, headers=self._headers()) as response:
                now = self._clock()
                if not response.is_success:
                    raise self._status_error(response, await read_error_text(response), request.model, now)
                state = _StreamState(model=request.model)
                async for sse in capped_events(response, self._endpoint.max_response_bytes):
                    for event in _parse_sse_event(state, sse.event, sse.data):
                        yield event
                completion = state.completion(self.parse_limits(response.headers, now))
        # after the response is closed, its body read to the end: the connection goes back to the pool even when
        # the caller stops at StreamDone
        yield StreamDone(completion=completion)

    def parse_limits(self, headers: Mapping[str, str], now: datetime) -> RateLimits:
        """See `parse_anthropic_limits`."""
        return parse_anthropic_limits(headers, now)

    def _headers(self) -> dict[str, str]:
        headers = {"anthropic-version": ANTHROPIC_VERSION, "content-type": "application/json"}
        if self._endpoint.api_key is not None:
            headers["x-api-key"] = self._endpoint.api_key.get_secret_value()
        headers.update(self._endpoint.extra_headers)
        return headers

    @contextmanager
    def _map_errors(self, model: str) -> Iterator[None]:
        """The one place where transport and stream failures become `ProviderError`s."""
        try:
            yield
        except _ErrorEvent as e:
            now, error = self._clock(), e.payload.get("error")
            verdict = classify_error_object(
                None, error if isinstance(error, dict) else None, fallback_text=e.data, now=now
            )
            raise self._error(verdict, model, e.data, {}, now) from e
        except (_Malformed, ResponseTooLarge, *CONTENT_ERRORS) as e:
            # a reply that cannot be understood (impossible values included) is the server's fault: fail over
            raise self._malformed(f"malformed response: {e}", model) from e
        except _Truncated as e:
            raise ProviderTransportError(
                f"truncated stream: {e}", provider=self._endpoint.provider, account=self._endpoint.account, model=model
            ) from e
        except (httpx2.SSEError, httpx2.DecodingError) as e:
            raise self._malformed(f"malformed response: {type(e).__name__}: {e}", model) from e
        except httpx2.TransportError as e:
            raise ProviderTransportError(
                self._redact(f"{type(e).__name__}: {e}"),
                provider=self._endpoint.provider,
                account=self._endpoint.account,
                model=model,
            ) from e

    def _status_error(self, response: httpx2.Response, text: str, model: str, now: datetime) -> ProviderHTTPError:
        verdict = classify_anthropic_error(response.status_code, text, now)
        return self._error(verdict, model, text, response.headers, now)

    def _error(
        self, verdict: ErrorVerdict, model: str, body: str, headers: Mapping[str, str], now: datetime
    ) -> ProviderHTTPError:
        limits = self.parse_limits(headers, now)
        return replace(verdict, message=self._redact(verdict.message), retry_after_s=limits.retry_after_s).to_exception(
            provider=self._endpoint.provider,
            account=self._endpoint.account,
            model=model,
            status_code=verdict.status_code,
            body=self._redact(body),
            limits=limits,
        )

    def _malformed(self, message: str, model: str) -> ServerError:
        return ServerError(
            self._redact(message)[:300],
            provider=self._endpoint.provider,
            account=self._endpoint.account,
            model=model,
            status_code=200,
        )

    def _redact(self, text: str) -> str:
        # an error must never be the place where a key leaks (httpx2 quotes an illegal header value whole)
        key = self._endpoint.api_key.get_secret_value() if self._endpoint.api_key is not None else None
        return redact_secret(text, key)


def _decode_object(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        raise _Malformed("a 200 response whose body is not JSON") from e
    if not isinstance(data, dict):
        raise _Malformed("a 200 response whose body is not a JSON object")
    return data
