"""The ledger's check, as pure code: given what the store holds for an account at `now`, does one more call fit?

`Ledger.reserve_job` reads every number this needs (`SQL_CHECK`, and `SQL_MINUTE_CHECK` when a per-minute limit
applies) inside its `BEGIN IMMEDIATE` transaction, then `first_refusal` decides. Keeping the rule here, in Python,
keeps it in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from providers.models import Account, BudgetSpec
from providers.ratelimits import plausible_limit
from providers.values import read_only_hashable
from storage.accounts import LEARNED_LIMIT_TTL
from storage.windows import MINUTE, Window, from_ms

NANO = 1_000_000_000
_LEARNED_TTL_MS = LEARNED_LIMIT_TTL // timedelta(milliseconds=1)

LimitName = Literal[
    "disabled",
    "exhausted",
    "cooldown",
    "requests_per_minute",
    "tokens_per_minute",
    "requests_per_day",
    "tokens_per_day",
    "requests_per_month",
    "tokens_per_month",
    "budget_daily_usd",
    "budget_monthly_usd",
]


@read_only_hashable
class Refused:
    """Why a reservation was refused: which limit, whose (`global`, `account:ID`, `account:ID/model:M`), until when.

    `resets_at` is None when waiting cannot help (the request alone is larger than the limit, or the account is
    disabled).
    """

    limit: LimitName
    scope: str
    resets_at: datetime | None
    detail: str = ""

    def __str__(self) -> str:
        when = f" until {self.resets_at.isoformat()}" if self.resets_at else ""
        return f"{self.scope}: {self.limit}{when}" + (f" ({self.detail})" if self.detail else "")


def to_nusd(usd: float) -> int:
    """USD as integer nano-dollars, the unit every sum is kept in (so budget sums are exact)."""
    return round(usd * NANO)


@read_only_hashable
class Periods:
    """The calendar windows one reservation falls in: the account's (its zone) and the global budget's."""

    account_day: Window
    account_month: Window
    global_day: Window
    global_month: Window


@dataclass(slots=True)
class Used:
    requests: int = 0
    tokens: int = 0
    cost_nusd: int = 0

    def add(self, requests: int, tokens: int, cost_nusd: int) -> None:
        self.requests += requests
        self.tokens += tokens
        self.cost_nusd += cost_nusd


@dataclass(slots=True)
class Observed:
    """What `SQL_CHECK` returned, sorted out: a refusal from the account's state, learned limits, usage."""

    state_refusal: Refused | None = None
    learned_rpm: int | None = None
    learned_tpm: int | None = None
    account_day: Used = field(default_factory=Used)
    account_month: Used = field(default_factory=Used)
    global_day: Used = field(default_factory=Used)
    global_month: Used = field(default_factory=Used)
    #: rolling minute: (requests, tokens, oldest created_at ms) of the account and of the account+model
    minute_account: tuple[int, int, int | None] = (0, 0, None)
    minute_model: tuple[int, int, int | None] = (0, 0, None)


# Three row kinds in one statement, padded to ten columns: s = account / account+model state, c = settled counters,
# p = live pending reservations, summed per account and periods (the rows do not grow with the calls in flight).
SQL_CHECK = """
SELECT 's', model, cooldown_until, cooldown_reason, exhausted_until, exhausted_reason, disabled_reason,
       learned_requests_limit, learned_tokens_limit, learned_at
FROM account_state WHERE account = :account AND model IN ('', :model)
UNION ALL
SELECT 'c', account, period, requests, tokens, cost_nusd, NULL, NULL, NULL, NULL FROM usage_counters
WHERE model = '' AND ((account = :account AND period IN (:a_day, :a_month))
                  OR (account = '' AND period IN (:g_day, :g_month)))
UNION ALL
SELECT 'p', account, account_day, account_month, global_day, global_month, SUM(tokens), SUM(cost_nusd), COUNT(*), NULL
FROM reservations WHERE state = 'pending' AND expires_at > :now
GROUP BY account, account_day, account_month, global_day, global_month"""

# The rolling minute of the account and of the account+model; read only when a per-minute limit applies (its cost
# grows with the account's calls in the last minute).
SQL_MINUTE_CHECK = """
SELECT COUNT(*), COALESCE(SUM(tokens), 0), MIN(created_at),
       COALESCE(SUM(CASE WHEN model = :model THEN 1 ELSE 0 END), 0),
       COALESCE(SUM(CASE WHEN model = :model THEN tokens END), 0), MIN(CASE WHEN model = :model THEN created_at END)
FROM reservations
WHERE account = :account AND created_at > :since AND (state = 'settled' OR (state = 'pending' AND expires_at > :now))"""


def observe(rows: Iterable[Any], account: str, periods: Periods, now_ms: int) -> Observed:
    """Sort the rows of `SQL_CHECK` into an `Observed`."""
    seen = Observed()
    for kind, *row in rows:
        if kind == "s":
            _observe_state(seen, account, row, now_ms)
        elif kind == "c":
            row_account, period, requests, tokens, cost = row[:5]
            if row_account:
                used = seen.account_day if period == periods.account_day.key else seen.account_month
            else:
                used = seen.global_day if period == periods.global_day.key else seen.global_month
            used.add(requests, tokens, cost)
        elif kind == "p":
            row_account, a_day, a_month, g_day, g_month, tokens, cost, count = row[:8]
            mine = row_account == account
            for match, used in (
                (mine and a_day == periods.account_day.key, seen.account_day),
                (mine and a_month == periods.account_month.key, seen.account_month),
                (g_day == periods.global_day.key, seen.global_day),
                (g_month == periods.global_month.key, seen.global_month),
            ):
                if match:
                    used.add(count, tokens, cost)
    return seen


def needs_minute(seen: Observed, account: Account) -> bool:
    """Whether a per-minute limit applies to the call (learned for the model, or configured for the account)."""
    quota = account.quota
    limits = (seen.learned_rpm, seen.learned_tpm, quota.requests_per_minute, quota.tokens_per_minute)
    return any(limit is not None for limit in limits)


def observe_minute(seen: Observed, row: Sequence[Any]) -> None:
    """Add the row of `SQL_MINUTE_CHECK` to `seen`."""
    seen.minute_account = (row[0], row[1], row[2])
    seen.minute_model = (row[3], row[4], row[5])


def _observe_state(seen: Observed, account: str, row: list[Any], now_ms: int) -> None:
    model, cool, cool_why, exhausted, exhausted_why, disabled_why, rpm, tpm, learned_at = row
    if model and learned_at is not None and learned_at > now_ms - _LEARNED_TTL_MS:
        # a 0 stored by an older version is no information either
        seen.learned_rpm, seen.learned_tpm = plausible_limit(rpm), plausible_limit(tpm)
    scope = f"account:{account}" + (f"/model:{model}" if model else "")
    refusal: Refused | None = None
    if disabled_why is not None and not model:
        refusal = Refused("disabled", scope, None, disabled_why)
    elif exhausted is not None and exhausted > now_ms:
        refusal = Refused("exhausted", scope, from_ms(exhausted), exhausted_why or "")
    elif cool is not None and cool > now_ms:
        refusal = Refused("cooldown", scope, from_ms(cool), cool_why or "")
    # The account-wide refusal wins over the model's: it is the broader one.
    if refusal is not None and (seen.state_refusal is None or not model):
        seen.state_refusal = refusal


def first_refusal(
    seen: Observed, account: Account, model: str, budget: BudgetSpec, periods: Periods, tokens: int, cost_nusd: int
) -> Refused | None:
    """The first limit one more call of `tokens` and `cost_nusd` would break, or None if it fits."""
    if seen.state_refusal is not None:
        return seen.state_refusal
    return _period_refusal(seen, account, budget, periods, tokens, cost_nusd) or _minute_refusal(
        seen, account, model, tokens
    )


def _period_refusal(
    seen: Observed, account: Account, budget: BudgetSpec, p: Periods, tokens: int, cost_nusd: int
) -> Refused | None:
    quota, mine = account.quota, f"account:{account.id}"
    day, month, g_day, g_month = seen.account_day, seen.account_month, seen.global_day, seen.global_month
    # (limit, scope, allowed, used so far, this call's share, window)
    checks: tuple[tuple[LimitName, str, int | None, int, int, Window], ...] = (
        ("requests_per_day", mine, quota.requests_per_day, day.requests, 1, p.account_day),
        ("tokens_per_day", mine, quota.tokens_per_day, day.tokens, tokens, p.account_day),
        ("requests_per_month", mine, quota.requests_per_month, month.requests, 1, p.account_month),
        ("tokens_per_month", mine, quota.tokens_per_month, month.tokens, tokens, p.account_month),
        ("budget_daily_usd", mine, _nusd(account.budget.daily_usd), day.cost_nusd, cost_nusd, p.account_day),
        ("budget_monthly_usd", mine, _nusd(account.budget.monthly_usd), month.cost_nusd, cost_nusd, p.account_month),
        ("budget_daily_usd", "global", _nusd(budget.daily_usd), g_day.cost_nusd, cost_nusd, p.global_day),
        ("budget_monthly_usd", "global", _nusd(budget.monthly_usd), g_month.cost_nusd, cost_nusd, p.global_month),
    )
    for limit, scope, allowed, so_far, share, window in checks:
        # a call that costs nothing cannot overspend, even when a lowered cap is already below the spend
        if share == 0 and limit.startswith("budget"):
            continue
        if allowed is not None and so_far + share > allowed:
            # A call larger than the whole limit will not fit after the reset either.
            resets_at = window.end if share <= allowed else None
            return Refused(limit, scope, resets_at, f"{_show(limit, so_far)} used of {_show(limit, allowed)}")
    return None


def _minute_refusal(seen: Observed, account: Account, model: str, tokens: int) -> Refused | None:
    # A learned limit is per model and replaces the configured one, which covers the whole account.
    limits: tuple[tuple[LimitName, int | None, int | None, int, bool], ...] = (
        ("requests_per_minute", seen.learned_rpm, account.quota.requests_per_minute, 1, True),
        ("tokens_per_minute", seen.learned_tpm, account.quota.tokens_per_minute, tokens, False),
    )
    for limit, learned, configured, share, counts_requests in limits:
        allowed = learned if learned is not None else configured
        if allowed is None:
            continue
        requests, used_tokens, oldest = seen.minute_model if learned is not None else seen.minute_account
        so_far = requests if counts_requests else used_tokens
        if so_far + share > allowed:
            scope = f"account:{account.id}" + (f"/model:{model}" if learned is not None else "")
            # The oldest call leaving the window is the earliest moment room can appear.
            resets_at = from_ms(oldest) + MINUTE if oldest is not None and share <= allowed else None
            return Refused(limit, scope, resets_at, f"{so_far} used of {allowed} in the last minute")
    return None


def _nusd(usd: float | None) -> int | None:
    return None if usd is None else to_nusd(usd)


def _show(limit: LimitName, amount: int) -> str:
    return f"${amount / NANO:.6f}" if limit.startswith("budget") else str(amount)
