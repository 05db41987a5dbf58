"""The OpenAI Chat Completions wire: OpenAI, Z.AI, Moonshot, OpenRouter, DeepSeek, Groq, Ollama, LM Studio, Gemini's
OpenAI endpoint — and any other server speaking it. A new vendor is an `Endpoint` plus `WireOptions`, never code.

The body is built by `openai_request`, a reply read by `openai_reply` and a stream assembled by `openai_stream`;
`complete` and `stream` only move bytes, and `_map_errors` turns every failure into a `providers.errors` class.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime

import httpx2

from providers.bounded import ResponseTooLarge, read_error_text, read_text
from providers.clock import Clock
from providers.errors import CONTENT_ERRORS, ProviderHTTPError, ProviderTransportError, ServerError
from providers.json_body import json_body, json_headers
from providers.openai_errors import classify_error, classify_payload, find_error
from providers.openai_reply import ErrorReply, Malformed, Truncated, parse_response
from providers.openai_request import build_body
from providers.openai_stream import Delta, StreamState, decode, deltas_of, parse_chunk
from providers.ratelimits import parse_openai_limits, without_requests_limit
from providers.redact import redact_secret
from providers.sse import ServerSentEvent, capped_events
from providers.types import ChatRequest, Completion, Endpoint, RateLimits, StreamDone, StreamEvent
from providers.vendors import WireOptions

_DEFAULT_OPTIONS = WireOptions()


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
        limits = parse_openai_limits(headers, now)
        return limits if self._options.requests_header_window == "minute" else without_requests_limit(limits)

    async def complete(self, request: ChatRequest) -> Completion:
        """One non-streamed chat completion.

        Raises:
            ProviderHTTPError: a subclass naming what went wrong (rate limit, quota, auth, bad request, …).
            ProviderTransportError: timeout, connection failure or a dropped connection.
        """
        body = build_body(request, self._options, stream=False)
        limit = self._endpoint.max_response_bytes
        with self._map_errors(request.model):
            content, headers = json_body(body), json_headers(self._headers())
            async with self._http.stream("POST", self._url, content=content, headers=headers) as response:
                if not response.is_success:
                    raise ErrorReply(response.status_code, await read_error_text(response), response.headers, None)
                text = await read_text(response, limit)
            completion = parse_response(decode(text, "response body"), model=request.model)
        return completion.model_copy(update={"rate_limits": self.parse_limits(response.headers, self._clock())})

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Yield deltas as they arrive, then one `StreamDone` with the assembled completion.

        Raises:
            ProviderHTTPError: an error status, or an error chunk / malformed data inside a 200 stream.
            ProviderTransportError: timeout, connection failure, or a stream cut before it finished.
        """
        body = build_body(request, self._options, stream=True)
        # StreamDone is yielded only after the response is read to its end and closed: the caller stops at
        # StreamDone, and a response closed half-read closes its connection instead of returning it to the pool.
        with self._map_errors(request.model):
            content, headers = json_body(body), json_headers(self._headers())
            async with self._http.stream("POST", self._url, content=content, headers=headers) as response:
                if not response.is_success:
                    raise ErrorReply(response.status_code, await read_error_text(response), response.headers, None)
                limits = self.parse_limits(response.headers, self._clock())
                if _is_json(response):
                    # a server that ignored `stream` (or answered with an error object) sent one JSON body
                    text = await read_text(response, self._endpoint.max_response_bytes)
                    completion = parse_response(decode(text, "response body"), model=request.model)
                    for event in deltas_of(completion):
                        yield event
                    completion = completion.model_copy(update={"rate_limits": limits})
                else:
                    state = StreamState(model=request.model)
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
        except ErrorReply as e:
            raise self._http_error(e, model) from e
        except (Malformed, ResponseTooLarge, httpx2.SSEError, httpx2.DecodingError, *CONTENT_ERRORS) as e:
            # a reply that cannot be understood (impossible values included) is the server's fault: fail over
            status = e.status_code if isinstance(e, Malformed) else 200
            message = self._redact(f"malformed reply: {e}")
            raise ServerError(message, provider=provider, account=account, model=model, status_code=status) from e
        except (Truncated, httpx2.TransportError) as e:
            # a timeout, a refused/reset connection, or a stream cut short: the server never finished answering
            message = str(e) if isinstance(e, Truncated) else f"{type(e).__name__}: {e}"
            raise ProviderTransportError(self._redact(message), provider=provider, account=account, model=model) from e

    def _http_error(self, reply: ErrorReply, model: str) -> ProviderHTTPError:
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


def _sse_deltas(state: StreamState, sse: ServerSentEvent) -> list[Delta]:
    """The deltas of one server-sent event; nothing after `[DONE]`."""
    data = sse.data.strip()
    if state.done or not data:
        return []
    if data == "[DONE]":
        state.done = True
        return []
    if sse.event == "error":
        raise ErrorReply(200, data, {}, find_error(decode(data, "error event")))
    return state.apply(parse_chunk(decode(data, "stream chunk")))
