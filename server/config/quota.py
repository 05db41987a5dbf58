"""The `quota` and `budgetUsd` blocks of providers.json.

A quota object takes the explicit limits `requestsPerMinute`, `requestsPerDay`, `tokensPerMinute`, `tokensPerDay`,
`requestsPerMonth`, `tokensPerMonth` (whole numbers >= 0, or null for "no such limit"), and the short form:

- `"limit": 15, "reset": "daily"` -> 15 requests per day; `"reset": "monthly"` -> per month (daily is the default).
  A numeric `limit` always counts REQUESTS: an old example comments `1000000000` as tokens, but a limit
  that means tokens must be written as `tokensPerMonth`. Explicit fields win over the short form.
- `"limit": "free_15_per_day"` (also `_per_minute`, `_per_month`, and without the `free_` prefix) -> 15 per day.
- `"limit": "free_tier"` -> the vendor's documented free-tier limits from the catalogue when it has them (Google),
  otherwise unknown: the router learns them from response headers and 429s.
- `"limit": "unlimited"` -> no configured limit.
- `timezone`: IANA zone of the daily/monthly reset; defaults to the vendor's (Google: America/Los_Angeles), else UTC.
- `resetAt` (an old example's timestamp) is accepted and ignored: windows are computed from `reset` and
  `timezone`, and limits learned from response headers override configured guesses.
"""

from __future__ import annotations

import re
from typing import Any

from providers.catalog import ProviderCatalog
from providers.models import BudgetSpec, QuotaSpec
from server.config.reader import Reader, child, quoted

_FIELDS = {
    "requestsPerMinute": "requests_per_minute",
    "tokensPerMinute": "tokens_per_minute",
    "requestsPerDay": "requests_per_day",
    "tokensPerDay": "tokens_per_day",
    "requestsPerMonth": "requests_per_month",
    "tokensPerMonth": "tokens_per_month",
}
_QUOTA_KEYS = (*_FIELDS, "limit", "reset", "timezone", "resetAt")
_RESETS = {"daily": "requests_per_day", "monthly": "requests_per_month"}
_PERIODS = {"minute": "requests_per_minute", "day": "requests_per_day", "month": "requests_per_month"}
_COUNT_PER_PERIOD = re.compile(r"^(?:free_)?(\d{1,12})_per_(minute|day|month)$")
_LIMIT_FIX = (
    'write a whole number of requests (with "reset": "daily" or "monthly"), a string such as "free_15_per_day", '
    '"free_tier" or "unlimited", or use requestsPerDay / tokensPerMonth and friends'
)


def _short_form(reader: Reader, quota: dict[str, Any], path: str, vendor: ProviderCatalog | None) -> dict[str, Any]:
    """The limits named by `limit` (+ `reset`), before explicit fields are applied over them."""
    reset = reader.choice(quota["reset"], child(path, "reset"), _RESETS) if "reset" in quota else "daily"
    if "limit" not in quota or quota["limit"] is None:
        return {}
    limit, limit_path = quota["limit"], child(path, "limit")
    if not isinstance(limit, str):
        return {_RESETS[reset]: reader.integer(limit, limit_path)}
    text = reader.string(limit, limit_path, fix=_LIMIT_FIX)
    match = _COUNT_PER_PERIOD.match(text)
    if match:
        return {_PERIODS[match.group(2)]: int(match.group(1))}
    if text == "unlimited":
        return {}
    if text == "free_tier":
        if vendor is not None and vendor.free_tier_quota is not None:
            return vendor.free_tier_quota.model_dump(exclude={"timezone"}, exclude_none=True)
        reader.warn(limit_path, "no documented free-tier limits for this provider; they are learned from its responses")
        return {}
    reader.fail(limit_path, f"{quoted(text)} is not a known limit", _LIMIT_FIX)


def parse_quota(reader: Reader, value: Any, path: str, vendor: ProviderCatalog | None) -> QuotaSpec | None:
    """A quota block, or None when it is absent or says nothing (so the account inherits one).

    Raises:
        ConfigError: a limit is negative, not a whole number, or the time zone is unknown.
    """
    if value is None:
        return None
    quota = reader.obj(value, path)
    reader.known_keys(quota, path, _QUOTA_KEYS)
    if not any(key in quota for key in _QUOTA_KEYS if key != "resetAt"):
        return None
    limits = _short_form(reader, quota, path, vendor)
    for key, name in _FIELDS.items():
        if key in quota:
            raw = quota[key]
            limits[name] = None if raw is None else reader.integer(raw, child(path, key))
    default_zone = vendor.quota_timezone if vendor is not None else "UTC"
    zone = reader.timezone(quota["timezone"], child(path, "timezone")) if "timezone" in quota else default_zone
    return QuotaSpec(timezone=zone, **limits)


def parse_budget(reader: Reader, value: Any, path: str) -> BudgetSpec:
    """A `budgetUsd` block: `{"daily": 5, "monthly": 50}` (either may be omitted or null).

    Raises:
        ConfigError: not an object, or an amount is negative or not a number.
    """
    if value is None:
        return BudgetSpec()
    budget = reader.obj(value, path, fix='write {"daily": 5, "monthly": 50} (US dollars)')
    reader.known_keys(budget, path, ("daily", "monthly"))
    amounts: dict[str, float | None] = {}
    for key in ("daily", "monthly"):
        raw = budget.get(key)
        amounts[f"{key}_usd"] = None if raw is None else reader.number(raw, child(path, key))
    return BudgetSpec(**amounts)
