"""Which endpoint of its wire a request path names, below the account prefix."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from providers.simulator.faults import JSON_TYPE
from providers.simulator.httpserver import Response
from providers.simulator.spec import SimAccount
from providers.types import WireKind

_GEMINI_MODELS = "/v1beta/models"


@dataclass(frozen=True, slots=True)
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


def models_response(spec: SimAccount) -> Response:
    """The model list endpoint of the account's wire, listing its configured models."""
    models = spec.models or {}
    if spec.kind == "gemini":
        listed = [
            {
                "name": f"models/{name}",
                "displayName": name,
                "inputTokenLimit": window,
                "supportedGenerationMethods": ["generateContent", "countTokens"],
            }
            for name, window in models.items()
        ]
        return json_response(200, {"models": listed})
    if spec.kind == "anthropic":
        data: list[dict[str, Any]] = [
            {"type": "model", "id": name, "display_name": name, "created_at": "2026-01-01T00:00:00Z"} for name in models
        ]
        first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
        return json_response(200, {"data": data, "has_more": False, "first_id": first, "last_id": last})
    listing = [{"id": name, "object": "model", "created": 1767225600, "owned_by": "sim"} for name in models]
    return json_response(200, {"object": "list", "data": listing})
