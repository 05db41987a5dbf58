"""The provider error taxonomy. Adapters translate every failure into exactly one of these, once, at their edge.

    ProviderError(provider, account, model)
    ├── ProviderHTTPError(status_code, body, retry_after_s, limits)
    │   ├── RateLimited        429 rate_limit_exceeded, RPM/TPM buckets        -> cool down until reset
    │   ├── QuotaExhausted     insufficient_quota, Gemini PerDay, spend caps   -> exhausted until window resets
    │   ├── Overloaded         529, overloaded_error, engine_overloaded_error  -> short cooldown, breaker
    │   ├── ServerError        5xx, a malformed 200 body or error event        -> short cooldown, breaker
    │   ├── AuthFailed         401/403                                         -> disable the account
    │   ├── ModelNotFound      404 model                                       -> mark the model retired
    │   ├── ContextTooLong     400 context length                              -> skip smaller windows
    │   └── InvalidRequest     other 400                                       -> stop, no failover
    ├── ProviderTransportError timeout, connection refused/reset, truncated stream -> next, breaker counts it
    └── InvalidOutput          an answer not valid against the request's json_schema -> next candidate, once

The router branches on these types (or `error_class`), never on message text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal

from providers.ratelimits import MAX_RETRY_AFTER_S
from providers.types import RateLimits, Usage

ErrorClass = Literal[
    "rate_limited",
    "quota_exhausted",
    "overloaded",
    "server_error",
    "transport",
    "auth_failed",
    "model_not_found",
    "context_too_long",
    "invalid_request",
    "invalid_output",
]

#: how long a quota stays exhausted: a calendar day or month, until a balance is topped up, or not said
QuotaScope = Literal["day", "month", "balance", "unknown"]

MAX_BODY_CHARS = 2000
#: an error's message is kept to this many characters (it reaches the caller, the log and the account's state)
MAX_MESSAGE_CHARS = 4000
#: what reading a reply raises when its content is beyond understanding (a number too large for an int, say); an
#: adapter reports it as a malformed response (`ServerError`), so the router fails over
CONTENT_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, ArithmeticError, RecursionError)


class ProviderError(Exception):
    """Base of every failure talking to a provider."""

    error_class: ClassVar[ErrorClass] = "server_error"
    #: whether another candidate may succeed where this one failed
    fails_over: ClassVar[bool] = True

    def __init__(self, message: str, *, provider: str, account: str, model: str | None = None) -> None:
        message = message[:MAX_MESSAGE_CHARS]
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.account = account
        self.model = model

    def __str__(self) -> str:
        where = f"{self.provider}/{self.account}" + (f" ({self.model})" if self.model else "")
        return f"{where}: {self.error_class}: {self.message}"


class ProviderHTTPError(ProviderError):
    """The provider answered, with an error status or an error inside a 200 stream."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        account: str,
        model: str | None = None,
        status_code: int,
        body: str = "",
        retry_after_s: float | None = None,
        limits: RateLimits | None = None,
    ) -> None:
        super().__init__(message, provider=provider, account=account, model=model)
        self.status_code = status_code
        self.body = body[:MAX_BODY_CHARS]
        self.retry_after_s = _sane_retry_after(retry_after_s)
        self.limits = limits or RateLimits()


def _sane_retry_after(seconds: float | None) -> float | None:
    """A server's retry hint, or None when it is impossible (not finite, negative, beyond a month)."""
    if seconds is None or not math.isfinite(seconds) or not 0 <= seconds <= MAX_RETRY_AFTER_S:
        return None
    return seconds


class RateLimited(ProviderHTTPError):
    error_class = "rate_limited"


class QuotaExhausted(ProviderHTTPError):
    """A quota or balance that will not come back by waiting seconds: per-day/month quota, credit, spend cap.

    `resets_at` is set when the provider says when (Anthropic's spend cap: the 1st at 00:00 UTC); otherwise
    the router uses the account's configured window.
    """

    error_class = "quota_exhausted"

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        account: str,
        model: str | None = None,
        status_code: int,
        body: str = "",
        retry_after_s: float | None = None,
        limits: RateLimits | None = None,
        resets_at: datetime | None = None,
        scope: QuotaScope = "unknown",
    ) -> None:
        super().__init__(
            message,
            provider=provider,
            account=account,
            model=model,
            status_code=status_code,
            body=body,
            retry_after_s=retry_after_s,
            limits=limits,
        )
        self.resets_at = resets_at
        self.scope = scope


class Overloaded(ProviderHTTPError):
    error_class = "overloaded"


class ServerError(ProviderHTTPError):
    error_class = "server_error"


class AuthFailed(ProviderHTTPError):
    error_class = "auth_failed"


class UnusableKey(AuthFailed):
    """A key no HTTP header can carry (a control or non-ASCII character), refused before anything is sent; the
    message names its source and the fix."""


class ModelNotFound(ProviderHTTPError):
    error_class = "model_not_found"


class ContextTooLong(ProviderHTTPError):
    error_class = "context_too_long"


class InvalidRequest(ProviderHTTPError):
    error_class = "invalid_request"
    fails_over = False


class ProviderTransportError(ProviderError):
    error_class = "transport"


class InvalidOutput(ProviderError):
    """The model answered, but not with what the request's `json_schema` asks for: another model may do better.

    `usage` is what the answer used (the provider bills it all the same)."""

    error_class = "invalid_output"

    def __init__(
        self, message: str, *, provider: str, account: str, model: str | None = None, usage: Usage | None = None
    ) -> None:
        super().__init__(message, provider=provider, account=account, model=model)
        self.usage = usage if usage is not None else Usage()


def class_for_status(status_code: int) -> type[ProviderHTTPError]:
    """The default class for an HTTP status when the body carries nothing more specific."""
    if status_code == 429:
        return RateLimited
    if status_code in (401, 403):
        return AuthFailed
    if status_code == 402:
        return QuotaExhausted
    if status_code == 404:
        return ModelNotFound
    if status_code == 413:
        return ContextTooLong
    if status_code in (503, 529):
        return Overloaded
    if status_code >= 500 or status_code in (408, 409):
        return ServerError
    return InvalidRequest


@dataclass(frozen=True)
class ErrorVerdict:
    """What an error reply means, whatever the wire: the class to raise, the provider's message, the retry hint
    and, for a quota, its scope and when it resets. Each wire's classifier (`openai_errors`, `anthropic_errors`,
    `google_errors`) returns one; the adapter turns it into the exception with `to_exception`.
    """

    cls: type[ProviderHTTPError]
    message: str
    retry_after_s: float | None = None
    scope: QuotaScope = "unknown"
    resets_at: datetime | None = None
    #: the status the error stands for (an error inside a 200 stream names its own); 0 when the reply's is meant
    status_code: int = 0

    def to_exception(
        self,
        *,
        provider: str,
        account: str,
        model: str | None,
        status_code: int,
        body: str = "",
        limits: RateLimits | None = None,
    ) -> ProviderHTTPError:
        """The exception this verdict stands for (a `QuotaExhausted` also gets `scope` and `resets_at`)."""
        common: dict[str, Any] = {
            "provider": provider,
            "account": account,
            "model": model,
            "status_code": status_code,
            "body": body,
            "retry_after_s": self.retry_after_s,
            "limits": limits,
        }
        if issubclass(self.cls, QuotaExhausted):
            return self.cls(self.message, resets_at=self.resets_at, scope=self.scope, **common)
        return self.cls(self.message, **common)
