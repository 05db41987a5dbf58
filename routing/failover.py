"""What a failed attempt means for the account, the model and the rest of the request (README "8. At call time").

Pure: the router passes `now`, and carries the returned `Action` out through its ports.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from providers.calendar import next_midnight, next_month_start
from providers.errors import (
    AuthFailed,
    ContextTooLong,
    InvalidOutput,
    InvalidRequest,
    ModelNotFound,
    ProviderError,
    ProviderHTTPError,
    QuotaExhausted,
    RateLimited,
    UnusableKey,
)
from providers.values import read_only_hashable

#: a rate limit with no hint from the provider cools the account+model this long
DEFAULT_RATE_LIMIT_COOLDOWN = timedelta(seconds=30)
#: an overloaded or failing model rests briefly; repeated failures open the circuit breaker
SERVER_COOLDOWN = timedelta(seconds=10)
TRANSPORT_COOLDOWN = timedelta(seconds=5)
#: a key no header can carry is checked again after this (fixing its variable needs a restart anyway)
UNUSABLE_KEY_REST = timedelta(minutes=1)
#: a credit balance may be topped up at any time: re-probe no sooner than this
BALANCE_RECHECK = timedelta(hours=1)
#: a server hint longer than this is not waited for inside one request
MAX_IN_REQUEST_WAIT_S = 20.0

Scope = Literal["account", "model"]


@read_only_hashable
class Action:
    """What to record after a failed attempt, and what the request does next."""

    cooldown_until: datetime | None = None
    exhausted_until: datetime | None = None
    #: the cooldown/exhaustion applies to the whole account, or to this model of it
    scope: Scope = "model"
    disable_account: bool = False
    retire_model: bool = False
    #: count toward the circuit breaker
    breaker: bool = False
    #: skip every remaining candidate whose context window is not larger than this one's
    skip_windows_up_to: int | None = None
    #: stop the request: another candidate would repeat the same rejection
    stop: bool = False
    #: whether the provider processed (and so counted) the request
    counted: bool = True
    #: the error is a quota or rate limit (switchOnLimit governs failing over from it)
    is_limit: bool = False
    #: how long a retry of the same candidate would wait (only for the last remaining candidate)
    retry_after_s: float | None = None
    reason: str = ""


def _exhausted_until(error: QuotaExhausted, now: datetime, timezone: str) -> tuple[datetime, Scope]:
    if error.resets_at is not None and error.resets_at > now:
        return error.resets_at, "account" if error.scope in ("month", "balance") else "model"
    if error.scope == "month":
        return next_month_start(now, timezone), "account"
    if error.scope == "balance":
        return now + BALANCE_RECHECK, "account"
    return next_midnight(now, timezone), "model"


def _rate_limit_until(error: RateLimited, now: datetime) -> tuple[datetime, float | None]:
    if error.retry_after_s is not None:
        return now + timedelta(seconds=error.retry_after_s), error.retry_after_s
    resets = [t for t in (error.limits.requests_reset_at, error.limits.tokens_reset_at) if t is not None and t > now]
    if resets:
        until = min(resets)
        return until, (until - now).total_seconds()
    return now + DEFAULT_RATE_LIMIT_COOLDOWN, None


def action_for(error: ProviderError, *, now: datetime, timezone: str, context_window: int) -> Action:
    """The action README "8. At call time" prescribes for `error` on a candidate with `context_window`."""
    reason = f"{error.error_class}: {error.message}"[:300]
    if isinstance(error, QuotaExhausted):
        until, scope = _exhausted_until(error, now, timezone)
        return Action(exhausted_until=until, scope=scope, is_limit=True, reason=reason)
    if isinstance(error, RateLimited):
        until, wait = _rate_limit_until(error, now)
        return Action(cooldown_until=until, is_limit=True, retry_after_s=wait, reason=reason)
    if isinstance(error, UnusableKey):
        # refused here, never sent: not the provider's verdict on the key, so the account is not disabled (a fixed
        # variable works after a restart); it rests a minute so each request does not try it first again
        return Action(cooldown_until=now + UNUSABLE_KEY_REST, scope="account", reason=reason)
    if isinstance(error, AuthFailed):
        return Action(disable_account=True, scope="account", reason=reason)
    if isinstance(error, ModelNotFound):
        return Action(retire_model=True, reason=reason)
    if isinstance(error, ContextTooLong):
        return Action(skip_windows_up_to=context_window, reason=reason)
    if isinstance(error, InvalidRequest):
        return Action(stop=True, reason=reason)
    if isinstance(error, InvalidOutput):
        # the model answered (and billed it), just not in the requested shape: no rest, another model may comply
        return Action(reason=reason)
    if isinstance(error, ProviderHTTPError):
        # overloaded, server errors and any other status: a short rest (the server's own hint when it gives one)
        wait = error.retry_after_s
        until = now + (timedelta(seconds=wait) if wait is not None else SERVER_COOLDOWN)
        return Action(cooldown_until=until, breaker=True, retry_after_s=wait, reason=reason)
    # transport: the request may never have reached the provider
    return Action(cooldown_until=now + TRANSPORT_COOLDOWN, scope="account", breaker=True, counted=False, reason=reason)
