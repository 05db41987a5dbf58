"""Each flavour's real error answers: status, body and headers, as the provider sends them.

Bodies follow tests/fixtures/cassettes/errors/observed_error_bodies.json and the providers' documentation. Where a
provider's real answer differs from the generic status (Moonshot and Z.AI report overload as 429, Gemini reports a
bad key as 400 API_KEY_INVALID, Z.AI an unknown model as 400 code 1211, DeepSeek and OpenRouter a spent balance as
402), the real one is used: that is what adapters must classify.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from providers.calendar import first_of_next_month
from providers.simulator.httpserver import Headers, Response
from providers.simulator.spec import Fault, Flavour
from providers.values import read_only_hashable

JSON_TYPE = ("content-type", "application/json")
GOOGLE_JSON_TYPE = ("content-type", "application/json; charset=UTF-8")

#: what a Cloudflare-fronted API returns when its upstream is unreachable: HTML, not the provider's JSON
BAD_GATEWAY_HTML = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1>"
    b"</center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"
)

_GOOGLE_HELP = {
    "@type": "type.googleapis.com/google.rpc.Help",
    "links": [
        {
            "description": "Learn more about Gemini API quotas",
            "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
        }
    ],
}
_GOOGLE_QUOTA_MESSAGE = (
    "You exceeded your current quota, please check your plan and billing details. For more information on this "
    "error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current usage, head to: "
    "https://ai.dev/rate-limit. \n* Quota exceeded for metric: "
    "generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: {limit}, model: {model}"
)
#: the per-day error also names a short retry although the quota only comes back at midnight Pacific
_GOOGLE_DAY_RETRY_S = 41


@read_only_hashable
class ErrorContext:
    """The request facts an error message quotes."""

    model: str
    input_tokens: int
    window: int
    limit: int
    retry_after_s: int
    now: float
    request_id: str


@read_only_hashable
class _Entry:
    status: int
    message: str
    type: str | None = None
    code: str | None = None
    param: str | None = None


_SERVER = "The server had an error while processing your request. Sorry about that!"
_OPENAI_AUTH = (
    "Incorrect API key provided: sk-sim****. You can find your API key at https://platform.openai.com/account/api-keys."
)
_OPENAI: dict[str, _Entry] = {
    "rate_limited": _Entry(
        429,
        "Rate limit reached for {model} in organization org-sim on requests per min (RPM): Limit {limit}, Used "
        "{limit}, Requested 1. Please try again in {retry_after_s}s. Visit "
        "https://platform.openai.com/account/rate-limits to learn more.",
        "requests",
        "rate_limit_exceeded",
    ),
    "quota_exhausted": _Entry(
        429,
        "You exceeded your current quota, please check your plan and billing details. For more information on this "
        "error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
        "insufficient_quota",
        "insufficient_quota",
    ),
    "server_error": _Entry(500, _SERVER, "server_error"),
    "unavailable": _Entry(503, "The server is overloaded or not ready yet.", "server_error"),
    "overloaded": _Entry(503, "The engine is currently overloaded, please try again later", "server_error"),
    "auth": _Entry(401, _OPENAI_AUTH, "invalid_request_error", "invalid_api_key"),
    "model_not_found": _Entry(
        404,
        "The model `{model}` does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    ),
    "context_too_long": _Entry(
        400,
        "This model's maximum context length is {window} tokens. However, your messages resulted in {input_tokens} "
        "tokens. Please reduce the length of the messages.",
        "invalid_request_error",
        "context_length_exceeded",
        "messages",
    ),
    "invalid": _Entry(
        400,
        "Invalid type for 'messages[0].content': expected one of a string or array of objects, but got an integer "
        "instead.",
        "invalid_request_error",
        "invalid_type",
        "messages[0].content",
    ),
}
_DEEPSEEK_INVALID = "invalid_request_error"
_DEEPSEEK: dict[str, _Entry] = {
    "rate_limited": _Entry(429, "Rate Limit Reached", "rate_limit_error", "rate_limit_exceeded"),
    "quota_exhausted": _Entry(402, "Insufficient Balance", "unknown_error", _DEEPSEEK_INVALID),
    "server_error": _Entry(500, "Server Error", "server_error"),
    "unavailable": _Entry(503, "Service Unavailable", "server_error"),
    "overloaded": _Entry(503, "Server Overloaded", "server_error"),
    "auth": _Entry(401, "Authentication Fails, Your api key: ****-sim is invalid", "authentication_error"),
    "model_not_found": _Entry(400, "Model Not Exist", _DEEPSEEK_INVALID, _DEEPSEEK_INVALID),
    "context_too_long": _Entry(
        400,
        "This model's maximum context length is {window} tokens. However, you requested {input_tokens} tokens "
        "({input_tokens} in the messages, 0 in the completion). Please reduce the length of the messages or "
        "completion.",
        _DEEPSEEK_INVALID,
        _DEEPSEEK_INVALID,
    ),
    "invalid": _Entry(
        400,
        "Failed to deserialize the JSON body into the target type: messages[0]: missing field `role`",
        _DEEPSEEK_INVALID,
        _DEEPSEEK_INVALID,
    ),
}
_MOONSHOT: dict[str, _Entry] = {
    "rate_limited": _Entry(
        429,
        "Your account org-sim request reached organization max RPM: {limit}, please try again after "
        "{retry_after_s} seconds",
        "rate_limit_reached_error",
    ),
    "quota_exhausted": _Entry(
        429,
        "Your account org-sim is suspended due to insufficient balance, please recharge your account or check your "
        "plan and billing details",
        "exceeded_current_quota_error",
    ),
    "server_error": _Entry(500, "Internal server error", "server_error"),
    "unavailable": _Entry(503, "Service temporarily unavailable", "server_error"),
    "overloaded": _Entry(429, "The engine is currently overloaded, please try again later", "engine_overloaded_error"),
    "auth": _Entry(401, "Invalid Authentication", "invalid_authentication_error"),
    "model_not_found": _Entry(404, "Not found the model {model} or Permission denied", "resource_not_found_error"),
    "context_too_long": _Entry(
        400, "Invalid request: Your request exceeded model token limit: {window}", "invalid_request_error"
    ),
    "invalid": _Entry(
        400,
        "Invalid request: the message at position 0 with role 'user' must not be empty",
        "invalid_request_error",
    ),
}
_ZAI: dict[str, _Entry] = {
    "rate_limited": _Entry(
        429,
        "High concurrency usage of this API, please reduce concurrency or contact customer service to increase limits",
        code="1302",
    ),
    "quota_exhausted": _Entry(429, "Insufficient balance or no resource package. Please recharge.", code="1113"),
    "server_error": _Entry(500, "Internal Error", code="500"),
    "unavailable": _Entry(503, "Network error, error id: sim, please contact customer service", code="1234"),
    "overloaded": _Entry(429, "The service may be temporarily overloaded, please try again later", code="1305"),
    "auth": _Entry(401, "Authentication Failed", code="1000"),
    "model_not_found": _Entry(400, "Unknown Model, please check the model code.", code="1211"),
    "context_too_long": _Entry(400, "Prompt exceeds max length", code="1261"),
    "invalid": _Entry(400, "Incorrect API call parameters, please check the documentation.", code="1210"),
}
_OPENROUTER: dict[str, _Entry] = {
    "rate_limited": _Entry(429, "Provider returned error"),
    "quota_exhausted": _Entry(402, "Insufficient credits. Add more using https://openrouter.ai/settings/credits"),
    "server_error": _Entry(500, "Internal Server Error"),
    "unavailable": _Entry(503, "No available model provider that meets your routing requirements"),
    "overloaded": _Entry(503, "Provider returned error"),
    "auth": _Entry(401, "No auth credentials found"),
    "model_not_found": _Entry(400, "{model} is not a valid model ID"),
    "context_too_long": _Entry(
        400,
        "This endpoint's maximum context length is {window} tokens. However, you requested about {input_tokens} "
        'tokens ({input_tokens} of text input). Please reduce the length of either one, or use the "middle-out" '
        "transform to compress your prompt automatically.",
    ),
    "invalid": _Entry(400, 'Input required: specify "prompt" or "messages"'),
}
_OPENROUTER_RAW = {
    "rate_limited": "{model} is temporarily rate-limited upstream. Please retry shortly, or add your own key to "
    "accumulate your rate limits: https://openrouter.ai/settings/integrations",
    "overloaded": "Overloaded",
}
_ANTHROPIC: dict[str, _Entry] = {
    "rate_limited": _Entry(
        429,
        "This request would exceed the rate limit for your organization (sim) of {limit} requests per minute. For "
        "details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current "
        "usage. Please reduce the prompt length or the maximum tokens requested, or try again later.",
        "rate_limit_error",
    ),
    "quota_exhausted": _Entry(
        429,
        "You have reached your specified API usage limits. You will regain access on {regain} at 00:00 UTC.",
        "rate_limit_error",
    ),
    "server_error": _Entry(500, "Internal server error", "api_error"),
    "unavailable": _Entry(503, "Service unavailable", "api_error"),
    "overloaded": _Entry(529, "Overloaded", "overloaded_error"),
    "auth": _Entry(401, "invalid x-api-key", "authentication_error"),
    "model_not_found": _Entry(404, "model: {model}", "not_found_error"),
    "context_too_long": _Entry(
        400, "prompt is too long: {input_tokens} tokens > {window} maximum", "invalid_request_error"
    ),
    "invalid": _Entry(400, "messages: at least one message is required", "invalid_request_error"),
}
_GEMINI: dict[str, _Entry] = {
    "rate_limited": _Entry(429, _GOOGLE_QUOTA_MESSAGE, "RESOURCE_EXHAUSTED"),
    "quota_exhausted": _Entry(429, _GOOGLE_QUOTA_MESSAGE, "RESOURCE_EXHAUSTED"),
    "server_error": _Entry(
        500,
        "An internal error has occurred. Please retry or report in "
        "https://developers.generativeai.google/guide/troubleshooting",
        "INTERNAL",
    ),
    "unavailable": _Entry(503, "The service is currently unavailable.", "UNAVAILABLE"),
    "overloaded": _Entry(503, "The model is overloaded. Please try again later.", "UNAVAILABLE"),
    "auth": _Entry(400, "API key not valid. Please pass a valid API key.", "INVALID_ARGUMENT"),
    "model_not_found": _Entry(
        404,
        "models/{model} is not found for API version v1beta, or is not supported for generateContent. Call "
        "ListModels to see the list of available models and their supported methods.",
        "NOT_FOUND",
    ),
    "context_too_long": _Entry(
        400,
        "The input token count ({input_tokens}) exceeds the maximum number of tokens allowed ({window}).",
        "INVALID_ARGUMENT",
    ),
    "invalid": _Entry(400, "* GenerateContentRequest.contents: contents is not specified\n", "INVALID_ARGUMENT"),
}
_TABLES: dict[Flavour, dict[str, _Entry]] = {
    "openai": _OPENAI,
    "deepseek": _DEEPSEEK,
    "moonshot": _MOONSHOT,
    "zai": _ZAI,
    "openrouter": _OPENROUTER,
    "anthropic": _ANTHROPIC,
    "gemini": _GEMINI,
}


def _next_month_start(now: float) -> str:
    return first_of_next_month(datetime.fromtimestamp(now, tz=UTC).date()).isoformat()


def _message(entry: _Entry, ctx: ErrorContext, fault: str) -> str:
    text = entry.message.format(
        model=ctx.model,
        input_tokens=ctx.input_tokens,
        window=ctx.window,
        limit=ctx.limit,
        retry_after_s=ctx.retry_after_s,
        regain=_next_month_start(ctx.now),
    )
    if fault == "rate_limited" and entry.status == 429 and entry.type == "RESOURCE_EXHAUSTED":
        text += f"\nPlease retry in {ctx.retry_after_s}s."
    elif fault == "quota_exhausted" and entry.type == "RESOURCE_EXHAUSTED":
        text += f"\nPlease retry in {_GOOGLE_DAY_RETRY_S}.754757778s."
    return text


def _google_details(fault: str, ctx: ErrorContext, with_retry: bool) -> list[dict[str, Any]]:
    if fault == "auth":
        return [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            },
            {
                "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                "locale": "en-US",
                "message": "API key not valid. Please pass a valid API key.",
            },
        ]
    if fault not in ("rate_limited", "quota_exhausted"):
        return []
    window = "Day" if fault == "quota_exhausted" else "Minute"
    violation = {
        "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
        "quotaId": f"GenerateRequestsPer{window}PerProjectPerModel-FreeTier",
        "quotaDimensions": {"model": ctx.model, "location": "global"},
        "quotaValue": str(ctx.limit),
    }
    details: list[dict[str, Any]] = [
        _GOOGLE_HELP,
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [violation]},
    ]
    if with_retry:
        delay = _GOOGLE_DAY_RETRY_S if fault == "quota_exhausted" else ctx.retry_after_s
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{delay}s"})
    return details


def _body(flavour: Flavour, fault: str, entry: _Entry, ctx: ErrorContext, with_retry: bool) -> dict[str, Any]:
    message = _message(entry, ctx, fault)
    if flavour in ("openai", "deepseek"):
        return {"error": {"message": message, "type": entry.type, "param": entry.param, "code": entry.code}}
    if flavour == "moonshot":
        return {"error": {"message": message, "type": entry.type}}
    if flavour == "zai":
        return {"error": {"code": entry.code, "message": message}}
    if flavour == "openrouter":
        error: dict[str, Any] = {"code": entry.status, "message": message}
        if fault in _OPENROUTER_RAW:
            error["metadata"] = {"provider_name": "Sim", "raw": _OPENROUTER_RAW[fault].format(model=ctx.model)}
        return {"error": error, "user_id": "user_sim"}
    if flavour == "anthropic":
        inner: dict[str, Any] = {"type": entry.type, "message": message}
        if fault == "quota_exhausted":
            inner["details"] = {"error_code": "enforced_spend_limit_reached"}
        return {"type": "error", "error": inner, "request_id": ctx.request_id}
    google: dict[str, Any] = {"code": entry.status, "message": message, "status": entry.type}
    if details := _google_details(fault, ctx, with_retry):
        google["details"] = details
    return {"error": google}


def error_response(flavour: Flavour, fault: Fault, ctx: ErrorContext, extra: Headers = ()) -> Response:
    """The flavour's HTTP error answer for `fault` (one of the faults answered with an error status)."""
    if fault == "bad_gateway":
        return Response(502, (("content-type", "text/html"), *extra), BAD_GATEWAY_HTML)
    key = "rate_limited" if fault == "rate_limited_no_retry_after" else fault
    entry = _TABLES[flavour][key]
    # Google's retry hint is RetryInfo in the body (its per-day quota error carries one too); others use the header
    body = _body(flavour, key, entry, ctx, with_retry=fault != "rate_limited_no_retry_after")
    headers: list[tuple[str, str]] = [GOOGLE_JSON_TYPE if flavour == "gemini" else JSON_TYPE, *extra]
    if fault == "rate_limited" and flavour != "gemini":
        headers.append(("retry-after", str(ctx.retry_after_s)))
    return Response(entry.status, tuple(headers), json.dumps(body, ensure_ascii=False).encode())


def stream_error_frame(flavour: Flavour, ctx: ErrorContext, model: str) -> bytes:
    """The event a flavour sends inside a 200 stream when generation fails part-way."""
    data: dict[str, Any]
    if flavour == "anthropic":
        data = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        return b"event: error\ndata: " + json.dumps(data).encode() + b"\n\n"
    if flavour == "gemini":
        body = _body(flavour, "server_error", _GEMINI["server_error"], ctx, False)
        return b"data: " + json.dumps(body).encode() + b"\r\n\r\n"
    if flavour == "openrouter":
        data = {
            "id": f"gen-{ctx.request_id}",
            "object": "chat.completion.chunk",
            "created": int(ctx.now),
            "model": model,
            "provider": "Sim",
            "error": {"code": "server_error", "message": "Provider disconnected unexpectedly"},
            "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
        }
        return b"data: " + json.dumps(data).encode() + b"\n\n"
    key = "overloaded" if flavour == "moonshot" else "server_error"
    body = _body(flavour, key, _TABLES[flavour][key], ctx, False)
    return b"data: " + json.dumps(body).encode() + b"\n\n"
