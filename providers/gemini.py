"""The Google Gemini API wire adapter (`models/{model}:generateContent` and `:streamGenerateContent`).

The body is built by `gemini_request`, chunks are assembled by `gemini_stream` (fields read by `gemini_reply`);
errors are classified by `google_errors` and raised from one place.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Iterator, Mapping
from contextlib import aclosing, contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

import httpx2

from providers.bounded import ResponseTooLarge, capped_text, read_error_text, read_text
from providers.clock import Clock
from providers.errors import (
    CONTENT_ERRORS,
    MAX_BODY_CHARS,
    ProviderHTTPError,
    ProviderTransportError,
    QuotaExhausted,
    ServerError,
)
from providers.gemini_request import DEFAULT_OPTIONS, build_body
from providers.gemini_stream import GeminiState, JsonArrayChunks, parse_chunk
from providers.google_errors import classify_google_error, parse_google_error_body
from providers.json_body import json_body, json_headers
from providers.ratelimits import parse_gemini_limits
from providers.redact import redact_secret
from providers.sse import capped_events
from providers.types import ChatRequest, Completion, Endpoint, RateLimits, StreamDone, StreamEvent
from providers.vendors import WireOptions


class GeminiAdapter:
    """The Gemini `generateContent` protocol for one endpoint over an injected `httpx2.AsyncClient`.

    `endpoint.base_url` is the API root, e.g. `https://generativelanguage.googleapis.com/v1beta`.
    `clock` is read only to date quota resets in errors.
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

    async def complete(self, request: ChatRequest) -> Completion:
        """One `generateContent` call.

        Raises:
            ProviderHTTPError: a subclass chosen by `classify_google_error`, or `ServerError` for a malformed body.
            ProviderTransportError: timeouts and connection failures.
        """
        with self._map_errors(request.model):
            url = self._url(request.model, "generateContent")
            body = build_body(request, self._options)
            content, headers = json_body(body), json_headers(self._headers())
            async with self._http.stream("POST", url, content=content, headers=headers) as response:
                if response.status_code >= 400:
                    text = await read_error_text(response)
                    raise self._http_error(response.status_code, text, response.headers, request.model)
                text = await read_text(response, self._endpoint.max_response_bytes)
            try:
                data = json.loads(text)
            except ValueError as error:
                raise self._malformed(text, request.model) from error
            chunks = data if isinstance(data, list) else [data]
            state = GeminiState(request.model)
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
        state = GeminiState(request.model)
        url = self._url(request.model, "streamGenerateContent") + "?alt=sse"
        with self._map_errors(request.model):
            body = build_body(request, self._options)
            content, headers = json_body(body), json_headers(self._headers())
            async with self._http.stream("POST", url, content=content, headers=headers) as response:
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
                        yield parse_chunk(event.data)
            else:
                splitter = JsonArrayChunks()
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
