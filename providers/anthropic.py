"""The Anthropic Messages wire adapter; also serves the Anthropic-compatible endpoints of Z.AI and Moonshot
(only the base URL differs).

The body is built by `anthropic_request`, a reply read by `anthropic_reply` and a stream assembled by
`anthropic_stream`; every failure is translated once, in `_map_errors`, and error bodies are classified by
`anthropic_errors`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

import httpx2

from providers.anthropic_errors import classify_anthropic_error, classify_error_object
from providers.anthropic_reply import parse_response
from providers.anthropic_request import build_body
from providers.anthropic_stream import ErrorEvent, Malformed, StreamState, Truncated, parse_sse_event
from providers.bounded import ResponseTooLarge, read_error_text, read_text
from providers.clock import Clock
from providers.errors import CONTENT_ERRORS, ErrorVerdict, ProviderHTTPError, ProviderTransportError, ServerError
from providers.json_body import json_body, json_headers
from providers.ratelimits import parse_anthropic_limits
from providers.redact import redact_secret
from providers.sse import capped_events
from providers.types import ChatRequest, Completion, Endpoint, RateLimits, StreamDone, StreamEvent
from providers.vendors import WireOptions

ANTHROPIC_VERSION = "2023-06-01"


#: the Messages API caps temperature at 1
DEFAULT_OPTIONS = WireOptions(temperature_max=1.0)


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
        body = build_body(request, self._options, stream=False)
        with self._map_errors(request.model):
            content, headers = json_body(body), json_headers(self._headers())
            async with self._http.stream("POST", self._url, content=content, headers=headers) as response:
                now = self._clock()
                if not response.is_success:
                    raise self._status_error(response, await read_error_text(response), request.model, now)
                text = await read_text(response, self._endpoint.max_response_bytes)
            data = _decode_object(text)
            if data.get("type") == "error":
                raise ErrorEvent(data, text)
            return parse_response(
                data, fallback_model=request.model, rate_limits=self.parse_limits(response.headers, now)
            )

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Yield text, reasoning and tool-call deltas as they arrive, then one `StreamDone`.

        Raises:
            ProviderHTTPError: for an error status, or an `event: error` inside the 200 stream (classified by
                its `error.type`); `ServerError` for data that is not JSON.
            ProviderTransportError: transport failures, and a stream that ends before `message_stop`.
        """
        body = build_body(request, self._options, stream=True)
        with self._map_errors(request.model):
            content, headers = json_body(body), json_headers(self._headers())
            async with self._http.stream("POST", self._url, content=content, headers=headers) as response:
                now = self._clock()
                if not response.is_success:
                    raise self._status_error(response, await read_error_text(response), request.model, now)
                state = StreamState(model=request.model)
                async for sse in capped_events(response, self._endpoint.max_response_bytes):
                    for event in parse_sse_event(state, sse.event, sse.data):
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
        except ErrorEvent as e:
            now, error = self._clock(), e.payload.get("error")
            verdict = classify_error_object(
                None, error if isinstance(error, dict) else None, fallback_text=e.data, now=now
            )
            raise self._error(verdict, model, e.data, {}, now) from e
        except (Malformed, ResponseTooLarge, *CONTENT_ERRORS) as e:
            # a reply that cannot be understood (impossible values included) is the server's fault: fail over
            raise self._malformed(f"malformed response: {e}", model) from e
        except Truncated as e:
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
        raise Malformed("a 200 response whose body is not JSON") from e
    if not isinstance(data, dict):
        raise Malformed("a 200 response whose body is not a JSON object")
    return data
