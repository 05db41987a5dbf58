"""What an OpenAI-compatible server's error bodies and rate-limit headers mean, for every vendor on that wire.

Error bodies are classified by structured fields only, in this order:

1. Google-shaped errors (Gemini's OpenAI endpoint; a string `error.status` such as `RESOURCE_EXHAUSTED`) go to
   `providers.google_errors.classify_google_error`, which reads quotaId, ErrorInfo and RetryInfo.
2. `error.code` (OpenAI codes, Groq's `tool_use_failed`, Z.AI's business codes sent as strings) and then
   `error.type` (OpenAI's `insufficient_quota`, Moonshot's `*_error` types), each through one table.
3. The HTTP status, or an integer `error.code` standing for it (OpenRouter, vLLM), through `class_for_status`;
   OpenRouter's moderation metadata turns its 403 into an invalid request rather than a dead key.
4. Only for a 400 left unexplained: a short table of documented message prefixes (context length, unknown model).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from providers.errors import (
    AuthFailed,
    ContextTooLong,
    ErrorVerdict,
    InvalidRequest,
    ModelNotFound,
    Overloaded,
    ProviderHTTPError,
    QuotaExhausted,
    QuotaScope,
    RateLimited,
    ServerError,
    class_for_status,
)
from providers.google_errors import classify_google_error
from providers.ratelimits import lower_headers, parse_go_duration, parse_retry_after

MAX_MESSAGE_CHARS = 500

_Rule = tuple[type[ProviderHTTPError], QuotaScope]
_BALANCE: _Rule = (QuotaExhausted, "balance")

#: error.code -> class. OpenAI (developers.openai.com error codes; learn.microsoft.com dev-proxy
#: openai-insufficient-quota), Groq, and Z.AI business codes (docs.z.ai/api-reference/api-code).
_BY_CODE: dict[str, _Rule] = {
    "insufficient_quota": _BALANCE,
    "credit_balance_exhausted": _BALANCE,
    "organization_spend_limit_exceeded": _BALANCE,
    "project_spend_limit_exceeded": _BALANCE,
    "organization_usage_limit_exceeded": _BALANCE,
    "rate_limit_exceeded": (RateLimited, "unknown"),
    "slow_down": (RateLimited, "unknown"),
    "context_length_exceeded": (ContextTooLong, "unknown"),
    "model_not_found": (ModelNotFound, "unknown"),
    "invalid_api_key": (AuthFailed, "unknown"),
    "tool_use_failed": (InvalidRequest, "unknown"),
    # Z.AI: authentication failed / missing / invalid / expired token
    "1000": (AuthFailed, "unknown"),
    "1001": (AuthFailed, "unknown"),
    "1002": (AuthFailed, "unknown"),
    "1003": (AuthFailed, "unknown"),
    "1004": (AuthFailed, "unknown"),
    # Z.AI: account inactive / missing / locked — nothing but a person can fix these
    "1110": (AuthFailed, "unknown"),
    "1111": (AuthFailed, "unknown"),
    "1112": (AuthFailed, "unknown"),
    "1121": (AuthFailed, "unknown"),
    "1113": _BALANCE,
    "1120": (ServerError, "unknown"),
    "1210": (InvalidRequest, "unknown"),
    "1211": (ModelNotFound, "unknown"),
    "1212": (InvalidRequest, "unknown"),
    "1213": (InvalidRequest, "unknown"),
    "1214": (InvalidRequest, "unknown"),
    "1215": (InvalidRequest, "unknown"),
    "1220": (AuthFailed, "unknown"),
    "1221": (ModelNotFound, "unknown"),
    "1222": (ModelNotFound, "unknown"),
    "1230": (ServerError, "unknown"),
    "1234": (ServerError, "unknown"),
    "1261": (ContextTooLong, "unknown"),
    "1301": (InvalidRequest, "unknown"),
    "1302": (RateLimited, "unknown"),
    "1303": (RateLimited, "unknown"),
    "1304": (QuotaExhausted, "day"),
    "1305": (Overloaded, "unknown"),
    "1308": (QuotaExhausted, "unknown"),
    "1309": _BALANCE,
    "1310": (QuotaExhausted, "unknown"),
    "1311": (ModelNotFound, "unknown"),
    "1312": (Overloaded, "unknown"),
    "1313": (RateLimited, "unknown"),
}

#: error.type -> class: OpenAI's billing type and Moonshot's typed errors (platform.moonshot.ai error docs).
_BY_TYPE: dict[str, _Rule] = {
    "insufficient_quota": _BALANCE,
    "server_error": (ServerError, "unknown"),
    "exceeded_current_quota_error": _BALANCE,
    "engine_overloaded_error": (Overloaded, "unknown"),
    "rate_limit_reached_error": (RateLimited, "unknown"),
    "invalid_authentication_error": (AuthFailed, "unknown"),
}

#: Message prefixes consulted only to refine a 400 that carries no structured hint.
_PREFIXES_400: tuple[tuple[str, type[ProviderHTTPError]], ...] = (
    ("This model's maximum context length is", ContextTooLong),  # DeepSeek, vLLM, older OpenAI
    ("Invalid request: Your request exceeded model token limit", ContextTooLong),  # Moonshot
    ("Model Not Exist", ModelNotFound),  # DeepSeek
)


def find_error(parsed: Any) -> Mapping[str, Any] | None:
    """The error object inside a decoded body, in each shape servers use; None when the body holds none.

    `{"error": {...}}` (OpenAI and most), `[{"error": {...}}]` (Google), `{"error": "text"}` (Ollama, LM Studio),
    `{"object": "error", "message": ...}` (vLLM).
    """
    if isinstance(parsed, list):
        return find_error(parsed[0]) if parsed else None
    if not isinstance(parsed, (dict, Mapping)):  # dict first: answered at once for decoded JSON, on every event
        return None
    error = parsed.get("error")
    # None, the usual event, skips the checks: `isinstance(None, Mapping)` walks the ABC's registry
    if error is not None:
        if isinstance(error, (dict, Mapping)):
            return error
        if isinstance(error, str):
            return {"message": error}
    return parsed if parsed.get("object") == "error" else None


def classify_error(status_code: int, body: str, headers: Mapping[str, str], now: datetime) -> ErrorVerdict:
    """Classify an error reply (any status; a 200 stream's error chunk too) from its body text and headers."""
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        parsed = None
    error = find_error(parsed)
    if error is None:
        cls, scope = _status_rule(status_code)
        message = _truncate(body.strip()) or f"HTTP {status_code} with no error body"
        verdict = ErrorVerdict(cls, message, scope=scope, status_code=status_code)
        return _with_retry(verdict, None, lower_headers(headers), now)
    return classify_payload(status_code, error, headers, now)


def classify_payload(
    status_code: int, error: Mapping[str, Any], headers: Mapping[str, str], now: datetime
) -> ErrorVerdict:
    """Classify one decoded error object; `status_code` is the HTTP status it came with (200 inside a stream)."""
    h = lower_headers(headers)
    if isinstance(error.get("status"), str):
        return _with_retry(_classify_google(status_code, error, now), error, h, now)
    code = error.get("code")
    effective = _status_of(error, status_code)
    rule = _structured_rule(code, error.get("type")) or _openrouter_rule(effective, error) or _status_rule(effective)
    cls, scope = rule
    message = _message(error)
    if cls is InvalidRequest and effective == 400:
        cls = next((refined for prefix, refined in _PREFIXES_400 if message.startswith(prefix)), cls)
    verdict = ErrorVerdict(cls, message, scope=scope, status_code=effective)
    return _with_retry(verdict, error, h, now)


def _status_rule(status_code: int) -> _Rule:
    if status_code == 402:  # Payment Required: DeepSeek's balance, OpenRouter's credits
        return _BALANCE
    return (class_for_status(status_code) if status_code >= 400 else ServerError, "unknown")


def _is_status(code: Any) -> bool:
    return isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599


def _status_of(error: Mapping[str, Any], status_code: int) -> int:
    """An integer `error.code` is the real status on servers that wrap errors (OpenRouter, vLLM, Google)."""
    code = error.get("code")
    return code if isinstance(code, int) and _is_status(code) else status_code


def _structured_rule(code: Any, error_type: Any) -> _Rule | None:
    if isinstance(code, str | int) and not isinstance(code, bool) and not _is_status(code):
        rule = _BY_CODE.get(str(code))
        if rule is not None:
            return rule
    if isinstance(error_type, str):
        return _BY_TYPE.get(error_type)
    return None


def _openrouter_rule(status_code: int, error: Mapping[str, Any]) -> _Rule | None:
    metadata = error.get("metadata")
    # OpenRouter's 403 with moderation metadata is flagged input, not a bad key
    if status_code == 403 and isinstance(metadata, Mapping) and "reasons" in metadata:
        return (InvalidRequest, "unknown")
    return None


def _classify_google(status_code: int, error: Mapping[str, Any], now: datetime) -> ErrorVerdict:
    return replace(classify_google_error(status_code, error, now), status_code=_status_of(error, status_code))


def _message(error: Mapping[str, Any]) -> str:
    message = error.get("message")
    text = message if isinstance(message, str) else json.dumps(error, default=str)
    metadata = error.get("metadata")
    if isinstance(metadata, Mapping) and metadata.get("raw") is not None:
        raw = metadata["raw"]
        upstream = metadata.get("provider_name") or "upstream"
        text = f"{text} ({upstream}: {raw if isinstance(raw, str) else json.dumps(raw, default=str)})"
    return _truncate(text)


def _truncate(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


def _with_retry(
    verdict: ErrorVerdict, error: Mapping[str, Any] | None, headers: Mapping[str, str], now: datetime
) -> ErrorVerdict:
    if headers.get("x-should-retry") == "false":
        return verdict
    retry_after = verdict.retry_after_s if verdict.retry_after_s is not None else parse_retry_after(headers, now)
    bucket = error.get("type") if error is not None else None
    if retry_after is None and verdict.cls is RateLimited and bucket in ("requests", "tokens"):
        # OpenAI names the exhausted bucket in error.type; its reset header is when that bucket is full again
        retry_after = parse_go_duration(headers.get(f"x-ratelimit-reset-{bucket}", ""))
    return replace(verdict, retry_after_s=retry_after)
