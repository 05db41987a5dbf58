from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from providers.errors import (
    AuthFailed,
    ContextTooLong,
    InvalidRequest,
    ModelNotFound,
    Overloaded,
    ProviderHTTPError,
    QuotaExhausted,
    RateLimited,
    ServerError,
)
from providers.google_errors import (
    classify_google_error,
    parse_google_error_body,
    quota_window,
)

OBSERVED = Path(__file__).parents[1] / "fixtures" / "cassettes" / "errors" / "observed_error_bodies.json"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # 04:00 in Los Angeles (PST, UTC-8)
NEXT_PACIFIC_MIDNIGHT = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)

QUOTA_FAILURE = "type.googleapis.com/google.rpc.QuotaFailure"
RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


def _observed(index: int) -> dict[str, Any]:
    entries: list[dict[str, Any]] = json.loads(OBSERVED.read_text())
    gemini = [entry for entry in entries if entry["provider"] == "gemini"]
    return gemini[index]


def _quota_error(*violations: dict[str, Any], retry_delay: str | None = "41s") -> dict[str, Any]:
    details: list[dict[str, Any]] = [{"@type": QUOTA_FAILURE, "violations": list(violations)}]
    if retry_delay is not None:
        details.append({"@type": RETRY_INFO, "retryDelay": retry_delay})
    return {
        "code": 429,
        "message": "You exceeded your current quota",
        "status": "RESOURCE_EXHAUSTED",
        "details": details,
    }


def _violation(quota_id: str, value: str = "20") -> dict[str, Any]:
    return {"quotaMetric": "generativelanguage.googleapis.com/x", "quotaId": quota_id, "quotaValue": value}


def test_observed_per_minute_429_is_rate_limited_with_the_retry_info_delay() -> None:
    entry = _observed(0)
    verdict = classify_google_error(entry["http_status"], parse_google_error_body(entry["body"]), NOW)
    assert verdict.cls is RateLimited
    assert verdict.retry_after_s == 58.0
    assert verdict.resets_at is None
    assert verdict.message.startswith("You exceeded your current quota")


def test_observed_truncated_per_day_429_falls_back_to_the_status_code() -> None:
    entry = _observed(1)
    assert entry["complete"] is False
    error = parse_google_error_body(entry["body"])
    assert error == {}
    verdict = classify_google_error(entry["http_status"], error, NOW)
    assert verdict.cls is RateLimited
    assert verdict.retry_after_s is None
    assert verdict.message == "HTTP 429"


def test_observed_per_day_body_when_complete_is_quota_exhausted_until_pacific_midnight() -> None:
    # the per-minute body with the per-day quotaId the truncated copy shows; its RetryInfo says 58s
    error = json.loads(_observed(0)["body"])["error"]
    error["details"][1]["violations"][0]["quotaId"] = "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
    verdict = classify_google_error(429, error, NOW)
    assert verdict.cls is QuotaExhausted
    assert verdict.scope == "day"
    assert verdict.resets_at == NEXT_PACIFIC_MIDNIGHT
    assert verdict.retry_after_s is None


QUOTA_CASES: list[tuple[str, dict[str, Any], type[ProviderHTTPError], str, float | None]] = [
    (
        "per-day requests",
        _quota_error(_violation("GenerateRequestsPerDayPerProjectPerModel-FreeTier")),
        QuotaExhausted,
        "day",
        None,
    ),
    (
        "per-day input tokens",
        _quota_error(_violation("GenerateContentInputTokensPerModelPerDay-FreeTier", "1000000")),
        QuotaExhausted,
        "day",
        None,
    ),
    (
        "per-minute input tokens, fractional delay",
        _quota_error(
            _violation("GenerateContentInputTokensPerModelPerMinute-FreeTier", "250000"),
            retry_delay="58.217843437s",
        ),
        RateLimited,
        "unknown",
        58.217843437,
    ),
    (
        "per-minute without RetryInfo",
        _quota_error(_violation("GenerateRequestsPerMinutePerProjectPerModel"), retry_delay=None),
        RateLimited,
        "unknown",
        None,
    ),
    (
        "minute and day together: the day wins",
        _quota_error(
            _violation("GenerateRequestsPerMinutePerProjectPerModel-FreeTier"),
            _violation("GenerateRequestsPerDayPerProjectPerModel-FreeTier"),
        ),
        QuotaExhausted,
        "day",
        None,
    ),
    (
        "limit 0: no free tier for this model",
        _quota_error(_violation("GenerateRequestsPerMinutePerProjectPerModel-FreeTier", "0")),
        QuotaExhausted,
        "unknown",
        None,
    ),
    (
        "a quotaId naming no window",
        _quota_error(_violation("SomeNewQuota"), retry_delay="7s"),
        RateLimited,
        "unknown",
        7.0,
    ),
]


@pytest.mark.parametrize(("case", "error", "cls", "scope", "retry_after"), QUOTA_CASES, ids=[c[0] for c in QUOTA_CASES])
def test_quota_failures_are_classified_by_quota_id_not_retry_delay(
    case: str, error: dict[str, Any], cls: type[ProviderHTTPError], scope: str, retry_after: float | None
) -> None:
    verdict = classify_google_error(429, error, NOW)
    assert verdict.cls is cls
    assert verdict.scope == scope
    assert verdict.retry_after_s == pytest.approx(retry_after)
    assert verdict.resets_at == (NEXT_PACIFIC_MIDNIGHT if scope == "day" else None)


def test_a_monthly_quota_resets_on_the_first_of_next_month_pacific() -> None:
    verdict = classify_google_error(429, _quota_error(_violation("GenerateRequestsPerMonthPerProject")), NOW)
    assert verdict.cls is QuotaExhausted
    assert verdict.scope == "month"
    assert verdict.resets_at == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _status_error(code: int, status: str, message: str = "boom", **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, "status": status, **extra}


API_KEY_INVALID = _status_error(
    400,
    "INVALID_ARGUMENT",
    "API key not valid. Please pass a valid API key.",
    details=[{"@type": ERROR_INFO, "reason": "API_KEY_INVALID", "domain": "googleapis.com"}],
)

STATUS_CASES: list[tuple[str, int, dict[str, Any], type[ProviderHTTPError]]] = [
    ("API_KEY_INVALID arrives as 400", 400, API_KEY_INVALID, AuthFailed),
    ("PERMISSION_DENIED", 403, _status_error(403, "PERMISSION_DENIED"), AuthFailed),
    ("UNAUTHENTICATED", 401, _status_error(401, "UNAUTHENTICATED"), AuthFailed),
    ("NOT_FOUND model", 404, _status_error(404, "NOT_FOUND", "models/gemini-2.0-flash is not found"), ModelNotFound),
    ("UNAVAILABLE", 503, _status_error(503, "UNAVAILABLE", "The model is overloaded."), Overloaded),
    ("INTERNAL", 500, _status_error(500, "INTERNAL"), ServerError),
    ("DEADLINE_EXCEEDED", 504, _status_error(504, "DEADLINE_EXCEEDED"), ServerError),
    ("INVALID_ARGUMENT", 400, _status_error(400, "INVALID_ARGUMENT", "Invalid JSON payload"), InvalidRequest),
    (
        "input token count over the window",
        400,
        _status_error(
            400,
            "INVALID_ARGUMENT",
            "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
        ),
        ContextTooLong,
    ),
    (
        "FAILED_PRECONDITION free tier not in region",
        400,
        _status_error(400, "FAILED_PRECONDITION", "Gemini API free tier is not available in your country."),
        QuotaExhausted,
    ),
    ("RESOURCE_EXHAUSTED without details", 429, _status_error(429, "RESOURCE_EXHAUSTED"), RateLimited),
    ("no status string: the HTTP code decides", 503, {"message": "unavailable"}, Overloaded),
    ("empty error object on a 500", 500, {}, ServerError),
    ("empty error object on a 401", 401, {}, AuthFailed),
]


@pytest.mark.parametrize(("case", "status", "error", "cls"), STATUS_CASES, ids=[c[0] for c in STATUS_CASES])
def test_errors_are_classified_by_error_info_then_status_then_http_code(
    case: str, status: int, error: dict[str, Any], cls: type[ProviderHTTPError]
) -> None:
    assert classify_google_error(status, error, NOW).cls is cls


def test_message_text_never_turns_a_5xx_or_429_into_something_else() -> None:
    message = "The input token count (9) exceeds the maximum number of tokens allowed (1). Please retry in 41s."
    assert classify_google_error(500, _status_error(500, "INTERNAL", message), NOW).cls is ServerError
    assert classify_google_error(429, _status_error(429, "RESOURCE_EXHAUSTED", message), NOW).cls is RateLimited


def test_an_error_inside_a_200_stream_uses_its_own_code() -> None:
    verdict = classify_google_error(200, {"code": 503, "message": "overloaded"}, NOW)
    assert verdict.cls is Overloaded


def test_overloaded_keeps_a_retry_info_delay() -> None:
    error = _status_error(503, "UNAVAILABLE", details=[{"@type": RETRY_INFO, "retryDelay": "2s"}])
    assert classify_google_error(503, error, NOW).retry_after_s == 2.0


def test_a_retry_delay_given_as_a_duration_object_is_read() -> None:
    error = _quota_error(_violation("GenerateRequestsPerMinutePerProjectPerModel"), retry_delay=None)
    error["details"].append({"@type": RETRY_INFO, "retryDelay": {"seconds": "3", "nanos": 500000000}})
    assert classify_google_error(429, error, NOW).retry_after_s == 3.5


def test_a_malformed_duration_object_gives_no_delay() -> None:
    error = _quota_error(_violation("GenerateRequestsPerMinutePerProjectPerModel"), retry_delay=None)
    error["details"].append({"@type": RETRY_INFO, "retryDelay": {"seconds": "soon"}})
    assert classify_google_error(429, error, NOW).retry_after_s is None


def test_a_weekly_quota_is_exhausted_without_a_known_reset() -> None:
    verdict = classify_google_error(429, _quota_error(_violation("GenerateRequestsPerWeekPerProject")), NOW)
    assert (verdict.cls, verdict.scope, verdict.resets_at) == (QuotaExhausted, "unknown", None)


def test_malformed_details_are_ignored() -> None:
    error = {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": ["junk", {"@type": QUOTA_FAILURE}]}
    assert classify_google_error(429, error, NOW).cls is RateLimited
    assert classify_google_error(429, {"details": "junk"}, NOW).cls is RateLimited


def test_the_verdict_builds_the_exception_with_scope_and_reset() -> None:
    verdict = classify_google_error(429, _quota_error(_violation("GenerateRequestsPerDayPerProjectPerModel")), NOW)
    error = verdict.to_exception(provider="google", account="g1", model="gemini-2.5-flash", status_code=429)
    assert isinstance(error, QuotaExhausted)
    assert (error.scope, error.resets_at, error.status_code) == ("day", NEXT_PACIFIC_MIDNIGHT, 429)
    limited = classify_google_error(503, {}, NOW).to_exception(
        provider="google", account="g1", model=None, status_code=503
    )
    assert type(limited) is Overloaded


@pytest.mark.parametrize(
    ("quota_id", "window"),
    [
        ("GenerateRequestsPerDayPerProjectPerModel-FreeTier", "Day"),
        ("GenerateContentInputTokensPerModelPerMinute-FreeTier", "Minute"),
        ("GenerateRequestsPerMinutePerProjectPerModel", "Minute"),
        ("GenerateContentPaidTierInputTokensPerModelPerDay", "Day"),
        ("Daylight-PerDay", None),  # only the part before the tier suffix is read, and "Daylight" is not a window
        ("", None),
    ],
)
def test_quota_window_reads_the_time_unit_after_per(quota_id: str, window: str | None) -> None:
    assert quota_window(quota_id) == window


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"error": {"code": 404, "status": "NOT_FOUND"}}', {"code": 404, "status": "NOT_FOUND"}),
        ('[{"error": {"code": 429}}]', {"code": 429}),
        ('{"error": "flat string"}', {}),
        ("<html>502 Bad Gateway</html>", {}),
        (b"\xff\xfe", {}),
        ("[1, 2]", {}),
    ],
)
def test_parse_google_error_body_returns_the_inner_error_or_nothing(
    text: str | bytes, expected: dict[str, Any]
) -> None:
    assert parse_google_error_body(text) == expected
