"""Which endpoint of its wire a request path names, below the account prefix."""

from __future__ import annotations

import json
from typing import Any, Literal
from urllib.parse import parse_qsl

from providers.simulator.faults import JSON_TYPE
from providers.simulator.httpserver import Response
from providers.simulator.spec import SimAccount
from providers.types import WireKind
from providers.values import read_only_hashable

_GEMINI_MODELS = "/v1beta/models"


@read_only_hashable
class Route:
    op: Literal["generate", "models"]
    #: Gemini names the model in the path
    model: str | None = None
    #: Gemini streams by endpoint, the others by a body field
    stream: bool = False


_GENERATE = Route("generate")
_MODELS = Route("models")
_PATHS: dict[tuple[WireKind, str, str], Route] = {
    ("openai", "POST", "/v1/chat/completions"): _GENERATE,
    ("openai", "GET", "/v1/models"): _MODELS,
    ("anthropic", "POST", "/v1/messages"): _GENERATE,
    ("anthropic", "GET", "/v1/models"): _MODELS,
    ("gemini", "GET", _GEMINI_MODELS): _MODELS,
}


def match_route(kind: WireKind, method: str, path: str) -> Route | None:
    """The route for `path` on `kind`'s wire, or None when that wire has no such endpoint."""
    route = _PATHS.get((kind, method, path))
    if route is not None or kind != "gemini" or method != "POST" or not path.startswith(_GEMINI_MODELS + "/"):
        return route
    model, _, action = path[len(_GEMINI_MODELS) + 1 :].partition(":")
    if not model or action not in ("generateContent", "streamGenerateContent"):
        return None
    return Route("generate", model, action == "streamGenerateContent")


def json_response(status: int, body: Any) -> Response:
    return Response(status, (JSON_TYPE,), json.dumps(body).encode())


def not_found(message: str) -> Response:
    return json_response(404, {"error": {"message": message, "type": "not_found"}})


def _page(names: list[str], start: int, size: int | None) -> tuple[list[str], int | None]:
    """The names of one listing page and the index the next page starts at (None: the last page)."""
    end = len(names) if size is None else min(len(names), start + size)
    return names[start:end], (end if end < len(names) else None)


def _query(query: str) -> dict[str, str]:
    return dict(parse_qsl(query))


def _size(query: dict[str, str], name: str, spec: SimAccount) -> int | None:
    asked = query.get(name, "")
    sizes = [size for size in (spec.listing_page_size, int(asked) if asked.isdigit() else None) if size]
    return min(sizes) if sizes else None


def models_response(spec: SimAccount, query: str = "") -> Response:
    """The model list endpoint of the account's wire, listing its configured models (paged as the wire pages).

    Anthropic pages with `limit` / `after_id` and answers `has_more` / `last_id`; Gemini with `pageSize` /
    `pageToken` and answers `nextPageToken`; `spec.listing_page_size` caps a page (None: one page).
    """
    models = spec.models or {}
    names, asked = list(models), _query(query)
    if spec.kind == "gemini":
        token = asked.get("pageToken", "")
        shown, following = _page(names, int(token) if token.isdigit() else 0, _size(asked, "pageSize", spec))
        listed = [
            {
                "name": f"models/{name}",
                "displayName": name,
                "inputTokenLimit": models[name],
                "outputTokenLimit": min(models[name], 8192),
                "supportedGenerationMethods": ["generateContent", "countTokens"],
            }
            for name in shown
        ]
        body: dict[str, Any] = {"models": listed}
        if following is not None:
            body["nextPageToken"] = str(following)
        return json_response(200, body)
    if spec.kind == "anthropic":
        after = asked.get("after_id")
        start = names.index(after) + 1 if after in names else 0
        shown, following = _page(names, start, _size(asked, "limit", spec))
        data: list[dict[str, Any]] = [
            {
                "type": "model",
                "id": name,
                "display_name": name,
                "created_at": "2026-01-01T00:00:00Z",
                "max_input_tokens": models[name],
                "max_tokens": min(models[name], 8192),
            }
            for name in shown
        ]
        first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
        return json_response(200, {"data": data, "has_more": following is not None, "first_id": first, "last_id": last})
    listing = [_openai_model(spec, name, window) for name, window in models.items()]
    return json_response(200, {"object": "list", "data": listing})


def _openai_model(spec: SimAccount, name: str, window: int) -> dict[str, Any]:
    model: dict[str, Any] = {"id": name, "object": "model", "created": 1767225600, "owned_by": "sim"}
    if spec.wire_flavour == "openrouter":  # OpenRouter's listing carries the window and per-token prices
        model |= {"context_length": window, "pricing": {"prompt": "0.000001", "completion": "0.000002"}}
    return model
