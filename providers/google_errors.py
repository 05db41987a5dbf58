"""Classify a Google (Gemini API) error body into the provider error taxonomy, by its structured fields.

Google errors are `{"error": {"code", "message", "status", "details": [...]}}` where `details` holds typed
`google.rpc.*` messages. The order of precedence is:

1. `google.rpc.QuotaFailure` violations: the `quotaId` names the window (`...PerDay...`, `...PerMinute...`).
   A per-day quota is exhausted until midnight Pacific even though the same body carries a `RetryInfo` of a
   few seconds, so the window decides and `retryDelay` is only used for per-minute (and unknown) windows.
   `quotaValue == "0"` means the model has no quota at all for this project (e.g. no free tier).
2. `google.rpc.ErrorInfo.reason`: key problems arrive as 400 `INVALID_ARGUMENT` with `API_KEY_INVALID`.
3. The canonical `status` string (`RESOURCE_EXHAUSTED`, `NOT_FOUND`, ...), then the HTTP status code.
4. Only for a 400 `INVALID_ARGUMENT`: a short table of documented message prefixes refines it into
   `ContextTooLong`, because Google gives no structured field for an over-long prompt. Message text is never
   used for any other status.

Decision: `FAILED_PRECONDITION` (the free tier is not available in the caller's region, billing must be
enabled) is a `QuotaExhausted` with scope "unknown": waiting seconds will not fix it and the request itself is
fine (another provider can serve it), but it is not an auth failure either — the key stays valid and enabling
billing fixes it without a key change. The router re-probes it when the account's configured window resets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from providers.calendar import next_midnight, next_month_start
from providers.errors import (
    AuthFailed,
    ContextTooLong,
    ErrorVerdict,
    InvalidRequest,
    ModelNotFound,
    Overloaded,
    ProviderHTTPError,
    QuotaExhausted,
    RateLimited,
    ServerError,
    class_for_status,
)
from providers.ratelimits import parse_seconds

#: Gemini's daily quotas reset at midnight Pacific time (ai.google.dev/gemini-api/docs/rate-limits)
QUOTA_TIME_ZONE = "America/Los_Angeles"

_QUOTA_FAILURE = "type.googleapis.com/google.rpc.QuotaFailure"
_RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"

_AUTH_REASONS = frozenset(
    {
        "API_KEY_INVALID",
        "API_KEY_EXPIRED",
        "API_KEY_SERVICE_BLOCKED",
        "API_KEY_HTTP_REFERRER_BLOCKED",
        "API_KEY_IP_ADDRESS_BLOCKED",
        "API_KEY_ANDROID_APP_BLOCKED",
        "API_KEY_IOS_APP_BLOCKED",
        "ACCESS_TOKEN_EXPIRED",
        "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
        "CONSUMER_INVALID",
        "SERVICE_DISABLED",
    }
)

_STATUS_CLASSES: dict[str, type[ProviderHTTPError]] = {
    "INVALID_ARGUMENT": InvalidRequest,
    "OUT_OF_RANGE": InvalidRequest,
    "FAILED_PRECONDITION": QuotaExhausted,
    "UNAUTHENTICATED": AuthFailed,
    "PERMISSION_DENIED": AuthFailed,
    "NOT_FOUND": ModelNotFound,
    "RESOURCE_EXHAUSTED": RateLimited,
    "UNAVAILABLE": Overloaded,
    "INTERNAL": ServerError,
    "UNKNOWN": ServerError,
    "DATA_LOSS": ServerError,
    "DEADLINE_EXCEEDED": ServerError,
    "ABORTED": ServerError,
    "CANCELLED": ServerError,
}

#: Documented 400 INVALID_ARGUMENT messages that mean "the prompt is too large for this model".
#: e.g. "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."
_CONTEXT_TOO_LONG_PREFIXES = (
    "The input token count",
    "Request payload size exceeds the limit",
)

_CAMEL_WORD = re.compile(r"[A-Z][a-z]*|[a-z]+|\d+")
_MAX_MESSAGE_CHARS = 500


def parse_google_error_body(text: str | bytes) -> Mapping[str, Any]:
    """The inner `error` object of a Google error body; `{}` when the body is truncated, not JSON or not an error.

    A body that is a JSON array (the non-SSE stream layout) is searched for its first `{"error": ...}` item.
    """
    try:
        data: Any = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return {}
    if isinstance(data, list):
        data = next((item for item in data if isinstance(item, dict) and "error" in item), {})
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        return data["error"]  # type: ignore[no-any-return]
    return {}


def classify_google_error(status_code: int, error: Mapping[str, Any], now: datetime) -> ErrorVerdict:
    """Classify a Google error from its HTTP status and the inner `error` object (may be empty).

    When the HTTP status is not an error (an error chunk inside a 200 stream), `error.code` stands in for it.
    """
    code = error.get("code")
    if status_code < 400 and isinstance(code, int) and code >= 400:
        status_code = code
    status = error.get("status") if isinstance(error.get("status"), str) else None
    message = _message(error, status_code, status)
    details = _details(error)

    quota = _quota_verdict(details, message, now)
    if quota is not None:
        return quota
    if _error_reasons(details) & _AUTH_REASONS:
        return ErrorVerdict(AuthFailed, message, None, "unknown", None)
    cls = _STATUS_CLASSES.get(status or "", class_for_status(status_code))
    if cls is InvalidRequest and status_code == 400 and message.startswith(_CONTEXT_TOO_LONG_PREFIXES):
        cls = ContextTooLong
    retry_after_s = _retry_delay(details) if cls in (RateLimited, Overloaded, ServerError) else None
    return ErrorVerdict(cls, message, retry_after_s, "unknown", None)


def _message(error: Mapping[str, Any], status_code: int, status: str | None) -> str:
    message = error.get("message")
    if isinstance(message, str) and message.strip():
        return message.strip()[:_MAX_MESSAGE_CHARS]
    return f"HTTP {status_code}" + (f" {status}" if status else "")


def _details(error: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    details = error.get("details")
    if not isinstance(details, Sequence) or isinstance(details, str):
        return []
    return [detail for detail in details if isinstance(detail, Mapping)]


def _of_type(details: list[Mapping[str, Any]], type_url: str) -> list[Mapping[str, Any]]:
    return [detail for detail in details if detail.get("@type") == type_url]


def _error_reasons(details: list[Mapping[str, Any]]) -> set[str]:
    return {str(detail.get("reason")) for detail in _of_type(details, _ERROR_INFO)}


def _retry_delay(details: list[Mapping[str, Any]]) -> float | None:
    for detail in _of_type(details, _RETRY_INFO):
        delay = detail.get("retryDelay")
        if isinstance(delay, str):
            return parse_seconds(delay)
        if isinstance(delay, Mapping):  # protobuf Duration as an object: {"seconds": "58", "nanos": 2e8}
            try:
                return float(delay.get("seconds", 0)) + float(delay.get("nanos", 0)) / 1e9
            except (TypeError, ValueError):
                return None
    return None


def quota_window(quota_id: str) -> str | None:
    """The window a Google quotaId counts over: the word after `Per` that names a time unit, e.g. "Day".

    `GenerateRequestsPerDayPerProjectPerModel-FreeTier` -> "Day";
    `GenerateContentInputTokensPerModelPerMinute-FreeTier` -> "Minute"; no time unit -> None.
    """
    words: list[str] = _CAMEL_WORD.findall(quota_id.split("-", 1)[0])
    for before, after in zip(words, words[1:], strict=False):
        if before == "Per" and after in ("Second", "Minute", "Hour", "Day", "Week", "Month"):
            return after
    return None


def _quota_verdict(details: list[Mapping[str, Any]], message: str, now: datetime) -> ErrorVerdict | None:
    violations = [
        violation
        for failure in _of_type(details, _QUOTA_FAILURE)
        for violation in (failure.get("violations") or [])
        if isinstance(violation, Mapping)
    ]
    if not violations:
        return None
    if any(str(violation.get("quotaValue")) == "0" for violation in violations):
        return ErrorVerdict(QuotaExhausted, message, None, "unknown", None)
    windows = {quota_window(str(violation.get("quotaId", ""))) for violation in violations}
    if "Month" in windows:
        return ErrorVerdict(QuotaExhausted, message, None, "month", next_month_start(now, QUOTA_TIME_ZONE))
    if "Day" in windows:
        return ErrorVerdict(QuotaExhausted, message, None, "day", next_midnight(now, QUOTA_TIME_ZONE))
    if "Week" in windows:
        return ErrorVerdict(QuotaExhausted, message, None, "unknown", None)
    return ErrorVerdict(RateLimited, message, _retry_delay(details), "unknown", None)
