"""The Google Gemini API wire adapter (`models/{model}:generateContent` and `:streamGenerateContent`).

Pure translators (`_build_body`, `_parse_response`, `_map_usage`, `_GeminiState`) sit apart from the two
methods that touch the network. Errors are classified by `providers.google_errors` and raised from one place.

Wire facts this module relies on (from Google's documentation and recorded answers):
- a tool call ends with `finishReason: STOP`; it is recognised by its `functionCall` part;
- every stream chunk repeats the cumulative `usageMetadata`, `finishReason` arrives on the last chunk only;
- without `alt=sse` (and from some proxies) the stream is one JSON array of the same chunk objects;
- `promptTokenCount` already includes `cachedContentTokenCount`; thoughts are billed as output.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator, Iterator, Mapping, Sequence
from contextlib import aclosing, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import httpx2

from providers.bounded import ResponseTooLarge, capped_events, capped_text, read_error_text, read_text
from providers.clock import Clock
from providers.errors import (
    CONTENT_ERRORS,
    MAX_BODY_CHARS,
    ProviderHTTPError,
    ProviderTransportError,
    QuotaExhausted,
    ServerError,
)
from providers.gemini_schema import gemini_schema
from providers.google_errors import classify_google_error, parse_google_error_body
from providers.ratelimits import parse_gemini_limits
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

#: Gemini 3 rejects a replayed `functionCall` without a `thoughtSignature`. `Message` keeps none (a signature
#: does not survive a switch of provider), so Google's documented sentinel stands in, on the first call of a turn.
SKIP_THOUGHT_SIGNATURE = "skip_thought_signature_validator"

#: ids travel to other providers (Anthropic allows only these characters in a tool_use id)
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")

_CONTENT_FILTER_REASONS = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
    }
)


# ---------------------------------------------------------------- request


_DEFAULT_OPTIONS = WireOptions()


def _build_body(request: ChatRequest, options: WireOptions = _DEFAULT_OPTIONS) -> dict[str, Any]:
    """The JSON body of a `generateContent` / `streamGenerateContent` call for `request`."""
    contents, system_texts = _build_contents(request.messages)
    if request.system:
        system_texts.insert(0, request.system)
    body: dict[str, Any] = {"contents": contents}
    if system_texts:
        body["systemInstruction"] = {"parts": [{"text": text} for text in system_texts]}
    if request.tools:
        body["tools"] = [{"functionDeclarations": [_function_declaration(tool) for tool in request.tools]}]
    config: dict[str, Any] = {}
    if request.temperature is not None:
        config["temperature"] = min(max(request.temperature, options.temperature_min), options.temperature_max)
    if request.max_output_tokens is not None:
        config["maxOutputTokens"] = request.max_output_tokens
    if request.stop:
        config["stopSequences"] = list(request.stop)
    if request.json_output:
        config["responseMimeType"] = "application/json"
    if config:
        body["generationConfig"] = config
    return body


def _build_contents(messages: Sequence[Message]) -> tuple[list[dict[str, Any]], list[str]]:
    """Gemini `contents` (roles user/model, same-role turns merged) and the texts of any system messages."""
    system_texts: list[str] = []
    names_by_call_id: dict[str, str] = {}
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            if message.content:
                system_texts.append(message.content)
            continue
        if message.role == "assistant":
            role, parts = "model", _model_parts(message)
            names_by_call_id.update((call.id, call.name) for call in message.tool_calls)
        elif message.role == "tool":
            role, parts = "user", [_function_response_part(message, names_by_call_id)]
        else:
            role, parts = "user", [{"text": message.content}] if message.content else []
        if not parts:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["parts"].extend(parts)
        else:
            turns.append({"role": role, "parts": parts})
    return turns, system_texts


def _model_parts(message: Message) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [{"text": message.content}] if message.content else []
    for position, call in enumerate(message.tool_calls):
        function_call: dict[str, Any] = {"name": call.name, "args": _arguments_object(call.arguments)}
        if call.id:
            function_call["id"] = call.id
        part: dict[str, Any] = {"functionCall": function_call}
        if position == 0:
            part["thoughtSignature"] = SKIP_THOUGHT_SIGNATURE
        parts.append(part)
    return parts


def _function_response_part(message: Message, names_by_call_id: Mapping[str, str]) -> dict[str, Any]:
    name = message.name or names_by_call_id.get(message.tool_call_id or "") or message.tool_call_id or "tool"
    # `response` must be an object: a tool that returned a JSON object is passed as one, anything else wrapped
    response = _json_object(message.content)
    function_response: dict[str, Any] = {
        "name": name,
        "response": response if response is not None else {"output": message.content},
    }
    if message.tool_call_id:
        function_response["id"] = message.tool_call_id
    return {"functionResponse": function_response}


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _arguments_object(arguments: str) -> dict[str, Any]:
    if not arguments.strip():
        return {}
    value = _json_object(arguments)
    return value if value is not None else {"arguments": arguments}


def _function_declaration(tool: ToolSpec) -> dict[str, Any]:
    declaration: dict[str, Any] = {"name": tool.name, "description": tool.description}
    parameters = gemini_schema(tool.parameters)
    # an object schema without properties is rejected by some Gemini models; no parameters means none
    if parameters.get("properties") or parameters.get("type") != "object":
        declaration["parameters"] = parameters
    return declaration


# ---------------------------------------------------------------- response


_WHERE = "a Gemini reply"


def _map_usage(metadata: Mapping[str, Any]) -> Usage | None:
    """Normalised usage from `usageMetadata`; None when its prompt count is missing or impossible.

    `promptTokenCount` already includes the cached tokens; tool-use prompt tokens (e.g. search results) are
    billed as input; thoughts are billed as output and reported apart as reasoning. A blocked prompt reports no
    `candidatesTokenCount`: no output.
    """
    counts = required_counts(metadata, ("promptTokenCount",), _WHERE)
    if counts is None or impossible(metadata, "candidatesTokenCount", _WHERE):
        return None
    thoughts = detail_count(metadata, "thoughtsTokenCount", _WHERE)
    return Usage(
        input_tokens=counts[0] + detail_count(metadata, "toolUsePromptTokenCount", _WHERE),
        output_tokens=detail_count(metadata, "candidatesTokenCount", _WHERE) + thoughts,
        cache_read_tokens=detail_count(metadata, "cachedContentTokenCount", _WHERE),
        reasoning_tokens=thoughts,
    )


def _finish_reason(raw: str | None, has_tool_calls: bool) -> FinishReason:
    if raw == "STOP":
        return "tool_calls" if has_tool_calls else "stop"
    if raw == "MAX_TOKENS":
        return "length"
    if raw in _CONTENT_FILTER_REASONS:
        return "content_filter"
    return "other"


@dataclass
class _GeminiState:
    """Folds response chunks (one for `generateContent`, many for a stream) into events and a completion."""

    model: str
    text: list[str] = field(default_factory=list[str])
    reasoning: list[str] = field(default_factory=list[str])
    tool_calls: list[ToolCall] = field(default_factory=list[ToolCall])
    usage: Usage | None = None
    raw_finish_reason: str | None = None
    block_reason: str | None = None
    response_id: str = ""

    @property
    def finished(self) -> bool:
        """Whether the model said it was done: a finish reason, or a prompt blocked before any candidate."""
        return self.raw_finish_reason is not None or self.block_reason is not None

    def add(self, chunk: Mapping[str, Any]) -> list[StreamEvent]:
        """Take in one chunk; return the deltas it carries."""
        if isinstance(chunk.get("usageMetadata"), Mapping):
            self.usage = _map_usage(chunk["usageMetadata"])  # cumulative: the last one wins
        if isinstance(chunk.get("modelVersion"), str) and chunk["modelVersion"]:
            self.model = chunk["modelVersion"].removeprefix("models/")
        if not self.response_id and isinstance(chunk.get("responseId"), str):
            self.response_id = _ID_UNSAFE.sub("", chunk["responseId"])
        feedback = chunk.get("promptFeedback")
        if isinstance(feedback, Mapping) and feedback.get("blockReason"):
            self.block_reason = str(feedback["blockReason"])
        candidate = _first_candidate(chunk)
        if candidate is None:
            return []
        if candidate.get("finishReason"):
            self.raw_finish_reason = str(candidate["finishReason"])
        content = candidate.get("content")
        parts = content.get("parts") if isinstance(content, Mapping) else None
        if not isinstance(parts, list):
            return []
        return [event for part in parts if isinstance(part, Mapping) for event in self._part_events(part)]

    def _part_events(self, part: Mapping[str, Any]) -> Iterator[StreamEvent]:
        call = part.get("functionCall")
        if isinstance(call, Mapping):
            index = len(self.tool_calls)
            given_id = call.get("id")
            tool_call = ToolCall(
                id=given_id if isinstance(given_id, str) and given_id else self._synthetic_id(index),
                name=str(call.get("name", "")),
                arguments=json.dumps(call.get("args") or {}, ensure_ascii=False),
            )
            self.tool_calls.append(tool_call)
            yield ToolCallDelta(index=index, id=tool_call.id, name=tool_call.name, arguments=tool_call.arguments)
            return
        text = part.get("text")
        if not isinstance(text, str) or not text:
            return
        if part.get("thought") is True:
            self.reasoning.append(text)
            yield ReasoningDelta(text=text)
        else:
            self.text.append(text)
            yield TextDelta(text=text)

    def _synthetic_id(self, index: int) -> str:
        # Gemini often sends no call id. Ids must stay unique across a conversation (Anthropic refuses a repeated
        # tool_use id once the conversation moves there), so the response id joins the position when known.
        return f"call_{self.response_id}_{index}" if self.response_id else f"call_{index}"

    def completion(self, rate_limits: RateLimits | None = None) -> Completion:
        """The assembled completion; a prompt blocked with no candidate ends as `content_filter`."""
        if self.raw_finish_reason is None and self.block_reason is not None:
            finish_reason: FinishReason = "content_filter"
            raw: str | None = self.block_reason
        else:
            finish_reason = _finish_reason(self.raw_finish_reason, bool(self.tool_calls))
            raw = self.raw_finish_reason
        return Completion(
            text="".join(self.text),
            tool_calls=tuple(self.tool_calls),
            finish_reason=finish_reason,
            usage=self.usage or Usage(),
            usage_missing=self.usage is None,
            model=self.model,
            reasoning="".join(self.reasoning) or None,
            raw_finish_reason=raw,
            rate_limits=rate_limits or RateLimits(),
        )


def _first_candidate(chunk: Mapping[str, Any]) -> Mapping[str, Any] | None:
    candidates = chunk.get("candidates")
    if not isinstance(candidates, list):
        return None
    for candidate in candidates:
        if isinstance(candidate, Mapping) and candidate.get("index", 0) == 0:
            return candidate
    return None


def _parse_response(data: Mapping[str, Any], model: str) -> Completion:
    """A `generateContent` response body as a `Completion` (`model` until the body names its version)."""
    state = _GeminiState(model)
    state.add(data)
    return state.completion()


def _parse_chunk(data: str) -> Mapping[str, Any]:
    """One SSE `data:` payload as a chunk object; ValueError when it is not a JSON object."""
    value = json.loads(data)
    if not isinstance(value, dict):
        raise ValueError("a stream chunk is not a JSON object")
    return value


class _JsonArrayChunks:
    """Splits a streamed JSON array of objects (`[{…},{…}]`) into objects as their bytes arrive.

    A single top-level object is accepted too (a proxy answering the stream with one response).
    """

    def __init__(self) -> None:
        self._buffer = ""
        self._opened = False
        self._closed = False
        self._decoder = json.JSONDecoder()

    def feed(self, text: str) -> list[Mapping[str, Any]]:
        """Objects completed by `text`; ValueError as soon as the bytes cannot be such an array."""
        self._buffer += text
        found: list[Mapping[str, Any]] = []
        while not self._closed:
            stripped = self._buffer.lstrip()
            if not stripped:
                break
            head = stripped[0]
            if not self._opened and head == "[":
                self._opened, self._buffer = True, stripped[1:]
            elif self._opened and head in ",]":
                self._closed, self._buffer = head == "]", stripped[1:]
            elif head == "{":
                try:
                    value, end = self._decoder.raw_decode(stripped)
                except json.JSONDecodeError:
                    self._buffer = stripped
                    break  # an object cut by the chunking; wait for more
                found.append(value)
                self._buffer = stripped[end:]
                self._closed = not self._opened
            else:
                raise ValueError(f"unexpected {head!r} in a JSON chunk array")
        return found


# ---------------------------------------------------------------- adapter


class GeminiAdapter:
    """The Gemini `generateContent` protocol for one endpoint over an injected `httpx2.AsyncClient`.

    `endpoint.base_url` is the API root, e.g. `https://generativelanguage.googleapis.com/v1beta`.
    `clock` is read only to date quota resets in errors.
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

    async def complete(self, request: ChatRequest) -> Completion:
        """One `generateContent` call.

        Raises:
            ProviderHTTPError: a subclass chosen by `classify_google_error`, or `ServerError` for a malformed body.
            ProviderTransportError: timeouts and connection failures.
        """
        with self._map_errors(request.model):
            url = self._url(request.model, "generateContent")
            body = _build_body(request, self._options)
            async with self._http.stream("POST", url, json=body, headers=self._headers()) as response:
                if response.status_code >= 400:
                    text = await read_error_text(response)
                    raise self._http_error(response.status_code, text, response.headers, request.model)
                text = await read_text(response, self._endpoint.max_response_bytes)
            try:
                data = json.loads(text)
            except ValueError as error:
                raise self._malformed(text, request.model) from error
            chunks = data if isinstance(data, list) else [data]
            state = _GeminiState(request.model)
            for chunk in chunks:
                if not isinstance(chunk, Mapping):
                    raise self._malformed(text, request.model)
                if "error" in chunk:
                    raise self._chunk_error(chunk, request.model)
                state.add(chunk)
            return state.completion(self.parse_limits(response.headers, self._clock()))

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent]:
        """`streamGenerateContent?alt=sse` (a JSON array of chunks is accepted too); ends with `StreamDone`.

        Raises:
            ProviderHTTPError: an error status or an error chunk (classified), or `ServerError` for a malformed body.
            ProviderTransportError: timeouts, connection failures, and a stream that ends without a finish reason.
        """
        state = _GeminiState(request.model)
        url = self._url(request.model, "streamGenerateContent") + "?alt=sse"
        with self._map_errors(request.model):
            body = _build_body(request, self._options)
            async with self._http.stream("POST", url, json=body, headers=self._headers()) as response:
                if response.status_code >= 400:
                    text = await read_error_text(response)
                    raise self._http_error(response.status_code, text, response.headers, request.model)
                limits = self.parse_limits(response.headers, self._clock())
                async with aclosing(self._chunks(response, request.model)) as chunks:
                    async for chunk in chunks:
                        if "error" in chunk:
                            raise self._chunk_error(chunk, request.model)
                        for event in state.add(chunk):
                            yield event
        if not state.finished:
            raise ProviderTransportError(
                "the stream ended before a finishReason (truncated)",
                provider=self._endpoint.provider,
                account=self._endpoint.account,
                model=request.model,
            )
        yield StreamDone(completion=state.completion(limits))

    def parse_limits(self, headers: Mapping[str, str], now: datetime) -> RateLimits:
        """Google sends no rate-limit headers; only a `retry-after` (from a proxy, say) is read."""
        return parse_gemini_limits(headers, now)

    async def _chunks(self, response: httpx2.Response, model: str) -> AsyncGenerator[Mapping[str, Any]]:
        content_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
        limit = self._endpoint.max_response_bytes
        try:
            if content_type == "text/event-stream":
                async for event in capped_events(response, limit):
                    if event.data.strip():
                        yield _parse_chunk(event.data)
            else:
                splitter = _JsonArrayChunks()
                async for text in capped_text(response, limit):
                    for chunk in splitter.feed(text):
                        yield chunk
        except ValueError as error:
            raise self._malformed(str(error), model) from error

    def _url(self, model: str, method: str) -> str:
        # tuned models and full resource names already carry their collection
        resource = model if "/" in model else f"models/{model}"
        return f"{self._endpoint.base_url.rstrip('/')}/{resource}:{method}"

    def _headers(self) -> dict[str, str]:
        headers = dict(self._endpoint.extra_headers)
        if self._endpoint.api_key is not None:
            headers["x-goog-api-key"] = self._endpoint.api_key.get_secret_value()
        return headers

    @contextmanager
    def _map_errors(self, model: str) -> Iterator[None]:
        """The one place where httpx2's failures become provider errors."""
        provider, account = self._endpoint.provider, self._endpoint.account
        try:
            yield
        except httpx2.TimeoutException as error:
            message = f"timed out ({type(error).__name__})"
            raise ProviderTransportError(message, provider=provider, account=account, model=model) from error
        except httpx2.SSEError as error:
            raise self._malformed(str(error), model) from error
        except httpx2.TransportError as error:
            message = self._redact(f"{type(error).__name__}: {error}")
            raise ProviderTransportError(message, provider=provider, account=account, model=model) from error
        except httpx2.DecodingError as error:
            message = self._redact(f"undecodable response body: {error}")
            raise ServerError(message, provider=provider, account=account, model=model, status_code=200) from error
        except (ResponseTooLarge, *CONTENT_ERRORS) as error:
            # a reply that cannot be understood (impossible values included) is the server's fault: fail over
            raise self._malformed("", model, why=str(error)) from error

    def _http_error(self, status: int, text: str, headers: Mapping[str, str], model: str) -> ProviderHTTPError:
        now = self._clock()
        limits = self.parse_limits(headers, now)
        verdict = classify_google_error(status, parse_google_error_body(text), now)
        if verdict.retry_after_s is None and verdict.cls is not QuotaExhausted and limits.retry_after_s is not None:
            verdict = replace(verdict, retry_after_s=limits.retry_after_s)
        if verdict.message:
            verdict = replace(verdict, message=self._redact(verdict.message))
        return verdict.to_exception(
            provider=self._endpoint.provider,
            account=self._endpoint.account,
            model=model,
            status_code=status,
            body=self._redact(text),
            limits=limits,
        )

    def _chunk_error(self, chunk: Mapping[str, Any], model: str) -> ProviderHTTPError:
        error = chunk["error"] if isinstance(chunk["error"], Mapping) else {}
        code = error.get("code")
        status = code if isinstance(code, int) and code >= 400 else 500
        return self._http_error(status, json.dumps(chunk), {}, model)

    def _malformed(self, detail: str, model: str, why: str = "") -> ServerError:
        return ServerError(
            self._redact(f"malformed response from Gemini{': ' + why if why else ''}")[:300],
            provider=self._endpoint.provider,
            account=self._endpoint.account,
            model=model,
            status_code=200,
            body=self._redact(detail[:MAX_BODY_CHARS]),
        )

    def _redact(self, text: str) -> str:
        # an error must never be the place where a key leaks (httpx2 quotes an illegal header value whole)
        key = self._endpoint.api_key.get_secret_value() if self._endpoint.api_key is not None else None
        return redact_secret(text, key)
