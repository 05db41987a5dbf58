"""Classify an Anthropic Messages error (an HTTP error body or an `event: error` inside a 200 stream).

Anthropic errors are `{"type": "error", "error": {"type", "message", ...}, "request_id"}`. The order of
precedence is:

1. A billing code, wherever the wire puts it: Z.AI's Anthropic-compatible endpoint sends `error.code == "1113"`
   (balance exhausted) even when the type says `rate_limit_error`; Anthropic's monthly spend cap is a 429
   `rate_limit_error` whose `error.details.error_code` is `enforced_spend_limit_reached`, paused until 00:00 UTC
   on the 1st of the next month.
2. `error.type` through `_ERROR_TYPES` (the documented type/status pairs).
3. The HTTP status (`providers.errors.class_for_status`) when the type is missing, unknown, or the body is
   not JSON at all — a truncated body included: half an object is not evidence for anything but the status.
4. Only for a 400 `invalid_request_error`: Anthropic gives no structured field for "Your credit balance is too
   low" nor for "prompt is too long", so a short table of documented message prefixes refines those two.
   Message text is never used for any other status.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from providers.calendar import next_month_start
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

#: Anthropic lifts a monthly spend cap at 00:00 UTC on the 1st of the next month
SPEND_CAP_TIME_ZONE = "UTC"

#: the provider's message is kept in our errors, cut to this length
MAX_MESSAGE_CHARS = 300

#: error.type -> (class, the HTTP status Anthropic pairs it with; used for errors inside a 200 stream)
_ERROR_TYPES: dict[str, tuple[type[ProviderHTTPError], int]] = {
    "invalid_request_error": (InvalidRequest, 400),
    "authentication_error": (AuthFailed, 401),
    "billing_error": (QuotaExhausted, 402),
    "permission_error": (AuthFailed, 403),
    "not_found_error": (ModelNotFound, 404),
    "request_too_large": (ContextTooLong, 413),
    "rate_limit_error": (RateLimited, 429),
    "api_error": (ServerError, 500),
    "timeout_error": (ServerError, 504),
    "overloaded_error": (Overloaded, 529),
}

#: codes that mean money, not speed: waiting seconds will not bring the account back
_BILLING_CODES: dict[str, QuotaScope] = {
    "1113": "balance",  # Z.AI: "Insufficient balance or no resource package"
    "enforced_spend_limit_reached": "month",  # Anthropic: the organisation's monthly spend cap
}

#: 400 invalid_request_error messages with no structured field (anthropics/claude-code#4207; the API's
#: "prompt is too long: N tokens > M maximum"); matched as case-insensitive prefixes
_INVALID_REQUEST_PREFIXES: tuple[tuple[str, type[ProviderHTTPError], QuotaScope], ...] = (
    ("your credit balance is too low", QuotaExhausted, "balance"),
    ("prompt is too long", ContextTooLong, "unknown"),
)


def parse_error_body(text: str) -> dict[str, Any] | None:
    """The `error` object of an error body, or None when the body is not a JSON object with one."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    error = data.get("error")
    return error if isinstance(error, dict) else None


def classify_anthropic_error(status_code: int | None, body: str, now: datetime) -> ErrorVerdict:
    """Classify an error response; `status_code` is None for an `event: error` inside a 200 stream."""
    return classify_error_object(status_code, parse_error_body(body), fallback_text=body, now=now)


def classify_error_object(
    status_code: int | None, error: Mapping[str, Any] | None, *, fallback_text: str = "", now: datetime
) -> ErrorVerdict:
    """Classify a decoded `error` object (None when the body had none); see the module docstring for the order."""
    error = error or {}
    message = _message(error, status_code, fallback_text)
    error_type = error.get("type")
    known = _ERROR_TYPES.get(error_type) if isinstance(error_type, str) else None
    status = status_code if status_code is not None else (known[1] if known else 500)

    scope = _billing_scope(error)
    if scope is not None:
        resets_at = next_month_start(now, SPEND_CAP_TIME_ZONE) if scope == "month" else None
        return ErrorVerdict(QuotaExhausted, message, scope=scope, resets_at=resets_at, status_code=status)

    cls = known[0] if known else class_for_status(status)
    if cls is QuotaExhausted:
        return ErrorVerdict(cls, message, scope="balance", status_code=status)
    if status == 400 and cls is InvalidRequest:
        refined = _refine_invalid_request(error.get("message"))
        if refined is not None:
            return ErrorVerdict(refined[0], message, scope=refined[1], status_code=status)
    return ErrorVerdict(cls, message, status_code=status)


def _billing_scope(error: Mapping[str, Any]) -> QuotaScope | None:
    details = error.get("details")
    codes = (error.get("code"), details.get("error_code") if isinstance(details, dict) else None)
    for code in codes:
        # Z.AI sends its codes as strings; accept a number too
        if isinstance(code, str | int) and not isinstance(code, bool) and str(code) in _BILLING_CODES:
            return _BILLING_CODES[str(code)]
    return None


def _refine_invalid_request(message: object) -> tuple[type[ProviderHTTPError], QuotaScope] | None:
    if not isinstance(message, str):
        return None
    folded = message.strip().casefold()
    for prefix, cls, scope in _INVALID_REQUEST_PREFIXES:
        if folded.startswith(prefix):
            return cls, scope
    return None


def _message(error: Mapping[str, Any], status_code: int | None, fallback_text: str) -> str:
    message = error.get("message")
    if isinstance(message, str) and message.strip():
        text = message.strip()
    else:
        body = " ".join(fallback_text.split())
        where = f"HTTP {status_code}" if status_code is not None else "error event"
        text = f"{where}: {body}" if body else f"{where} with an empty body"
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"
