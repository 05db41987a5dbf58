"""What a provider's own model-listing endpoint says an account's key can use, per wire protocol.

    OpenAI-compatible  GET {base}/models           `data[].id`; OpenRouter adds `context_length`, `pricing`
                                                   (USD per token, as strings) and `top_provider.max_completion_tokens`
    Anthropic          GET {base}/v1/models        paged: `has_more` and `last_id`, asked for with `after_id`
    Gemini             GET {base}/models           paged: `nextPageToken`, asked for with `pageToken`; `name` is
                                                   `models/<id>`, with `inputTokenLimit` / `outputTokenLimit`

The parsers are pure (one page in, models and the next page's cursor out); `fetch_listing` only moves bytes, with
the account's key sent the way its adapter sends it. Every failure is one `ListingError` whose message never
carries the key. Listings are never fetched on a request's path: see `server.wiring.listings`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import httpx2

from providers.anthropic import AnthropicAdapter
from providers.bounded import ResponseTooLarge, read_error_text, read_text
from providers.clock import Clock
from providers.errors import ErrorClass
from providers.gemini import GeminiAdapter
from providers.openai_compat import OpenAICompatAdapter
from providers.redact import mask_keys, redact_secret
from providers.types import Endpoint, Frozen, WireKind

#: more pages than any provider has models: a server that keeps answering `has_more` must not loop forever
MAX_PAGES = 50
#: a page of a model listing larger than this is no listing (OpenRouter's whole catalogue is ~1 MB)
MAX_PAGE_BYTES = 16 * 2**20
_PAGE_SIZE = 1000
_PER_TOKEN_TO_PER_1M = 1_000_000


class ListedModel(Frozen):
    """One model a listing reports; facts the listing does not give are None."""

    id: str
    context_window: int | None = None
    max_output_tokens: int | None = None
    input_cost_per_1m: float | None = None
    output_cost_per_1m: float | None = None


class ListingError(Exception):
    """A listing could not be fetched or read; `error_class` as in `providers.errors`, the message key-free."""

    def __init__(self, message: str, *, error_class: ErrorClass, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_class: ErrorClass = error_class
        self.status_code = status_code


Page = tuple[list[ListedModel], str | None]


# ---------------------------------------------------------------- pure parsers


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return int(value)


def _per_1m(value: Any) -> float | None:
    try:
        price = float(value)
    except (TypeError, ValueError):
        return None
    return round(price * _PER_TOKEN_TO_PER_1M, 6) if price >= 0 else None


def _entries(data: Any, key: str) -> list[Mapping[str, Any]]:
    if not isinstance(data, Mapping) or not isinstance(data.get(key, []), list):
        raise ValueError(f"expected an object with a {key!r} list")
    return [entry for entry in data.get(key, []) if isinstance(entry, Mapping)]


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def parse_openai_models(data: Any) -> Page:
    """`{"data": [{"id": ...}, ...]}`; OpenRouter's context, completion limit and prices are kept when given."""
    models: list[ListedModel] = []
    for entry in _entries(data, "data"):
        model_id = entry.get("id")
        if not isinstance(model_id, str) or not model_id:
            continue
        pricing, top = _object(entry.get("pricing")), _object(entry.get("top_provider"))
        models.append(
            ListedModel(
                # Gemini's OpenAI-compatible endpoint lists its resource names ("models/gemini-...")
                id=model_id.removeprefix("models/"),
                context_window=_positive_int(entry.get("context_length") or entry.get("context_window")),
                max_output_tokens=_positive_int(top.get("max_completion_tokens")),
                input_cost_per_1m=_per_1m(pricing.get("prompt")),
                output_cost_per_1m=_per_1m(pricing.get("completion")),
            )
        )
    return models, None


def parse_anthropic_models(data: Any) -> Page:
    """One page of `GET /v1/models`; the cursor is `last_id` while `has_more` is true."""
    models = [
        ListedModel(
            id=entry["id"],
            context_window=_positive_int(entry.get("max_input_tokens")),
            max_output_tokens=_positive_int(entry.get("max_tokens")),
        )
        for entry in _entries(data, "data")
        if isinstance(entry.get("id"), str) and entry["id"]
    ]
    last = data.get("last_id")
    more = data.get("has_more") is True and isinstance(last, str) and bool(last)
    return models, last if more else None


def parse_gemini_models(data: Any) -> Page:
    """One page of `GET /v1beta/models`: only models that serve `generateContent` (embeddings etc. are left out)."""
    models: list[ListedModel] = []
    for entry in _entries(data, "models"):
        name = entry.get("name")
        methods = entry.get("supportedGenerationMethods")
        if not isinstance(name, str) or not name:
            continue
        if isinstance(methods, list) and "generateContent" not in methods:
            continue
        models.append(
            ListedModel(
                id=name.removeprefix("models/"),
                context_window=_positive_int(entry.get("inputTokenLimit")),
                max_output_tokens=_positive_int(entry.get("outputTokenLimit")),
            )
        )
    token = data.get("nextPageToken")
    return models, token if isinstance(token, str) and token else None


# ---------------------------------------------------------------- fetching


def _request(
    kind: WireKind, http: httpx2.AsyncClient, endpoint: Endpoint, clock: Clock
) -> tuple[str, dict[str, str], str]:
    """The listing URL, the headers the wire's adapter authenticates with, and the page cursor's query name."""
    base = endpoint.base_url.rstrip("/")
    if kind == "anthropic":
        return f"{base}/v1/models", AnthropicAdapter(http, endpoint, clock=clock)._headers(), "after_id"
    if kind == "gemini":
        return f"{base}/models", GeminiAdapter(http, endpoint, clock=clock)._headers(), "pageToken"
    return f"{base}/models", OpenAICompatAdapter(http, endpoint, clock=clock)._headers(), ""


_PARSERS: dict[WireKind, Callable[[Any], Page]] = {
    "openai": parse_openai_models,
    "anthropic": parse_anthropic_models,
    "gemini": parse_gemini_models,
}
_PAGE_LIMIT_PARAM: dict[WireKind, str] = {"anthropic": "limit", "gemini": "pageSize"}


def _status_class(status: int) -> ErrorClass:
    if status in (401, 403):
        return "auth_failed"
    if status == 429:
        return "rate_limited"
    if status == 404:
        return "model_not_found"
    return "server_error" if status >= 500 else "invalid_request"


def _redactor(endpoint: Endpoint) -> Callable[[str], str]:
    key = endpoint.api_key.get_secret_value() if endpoint.api_key is not None else ""

    def redact(text: str) -> str:
        return mask_keys(redact_secret(text, key or None))

    return redact


async def _page(http: httpx2.AsyncClient, url: str, headers: dict[str, str], params: dict[str, str]) -> Any:
    async with http.stream("GET", url, headers=headers, params=params) as response:
        if response.status_code >= 400:
            raise ListingError(
                f"HTTP {response.status_code}: {(await read_error_text(response))[:200]}",
                error_class=_status_class(response.status_code),
                status_code=response.status_code,
            )
        try:
            text = await read_text(response, MAX_PAGE_BYTES)
        except ResponseTooLarge as error:
            raise ListingError(
                f"a listing page passed {MAX_PAGE_BYTES // 2**20} MB", error_class="server_error", status_code=200
            ) from error
    try:
        return json.loads(text)
    except ValueError as error:
        raise ListingError("the listing is not JSON", error_class="server_error", status_code=200) from error


async def fetch_listing(
    kind: WireKind, http: httpx2.AsyncClient, endpoint: Endpoint, clock: Clock
) -> tuple[ListedModel, ...]:
    """Every model the endpoint's listing reports for its key, all pages followed.

    Raises:
        ListingError: an error status, a transport failure or an unreadable page (the key is never in it).
    """
    url, headers, cursor_name = _request(kind, http, endpoint, clock)
    redact = _redactor(endpoint)
    parse = _PARSERS[kind]
    models: list[ListedModel] = []
    cursor: str | None = None
    try:
        for _ in range(MAX_PAGES):
            params = {_PAGE_LIMIT_PARAM[kind]: str(_PAGE_SIZE)} if kind in _PAGE_LIMIT_PARAM else {}
            if cursor is not None:
                params[cursor_name] = cursor
            page, cursor = parse(await _page(http, url, headers, params))
            models.extend(page)
            if cursor is None:
                break
    except ListingError as error:
        status = error.status_code
        raise ListingError(redact(error.message), error_class=error.error_class, status_code=status) from None
    except ValueError as error:
        raise ListingError(redact(f"malformed listing: {error}"), error_class="server_error") from error
    except httpx2.TransportError as error:
        raise ListingError(redact(f"{type(error).__name__}: {error}"), error_class="transport") from error
    unique = {model.id: model for model in models}
    return tuple(unique.values())
