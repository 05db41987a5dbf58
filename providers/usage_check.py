"""What a provider's usage numbers are worth: a count that is not finite, negative or absurd is no information.

An upstream that sends `NaN`, `1e400`, `-1000000` or `1e20` tokens must not crash the call nor lower (or blow up)
recorded spend. Such a value is treated as missing, with a warning; the adapter then marks the completion's usage
as missing and the router settles the attempt at its estimate.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

#: no single call uses more tokens than this (the largest context windows hold a few million)
MAX_TOKENS = 10**9
#: no single call costs more than this many USD
MAX_COST_USD = 10_000.0


def _number(value: Any, maximum: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return float(value) if 0 <= value <= maximum else None


def token_count(value: Any) -> int | None:
    """`value` as a token count; None when missing or impossible (not a number, not finite, negative, absurd)."""
    number = _number(value, MAX_TOKENS)
    return int(number) if number is not None else None


def detail_count(usage: Mapping[str, Any], key: str, where: str) -> int:
    """An optional detail count (cached, reasoning); 0 when missing, 0 with a warning when impossible."""
    value = usage.get(key)
    count = token_count(value)
    if count is None and value is not None:
        log.warning("%s reported an impossible %s (%.40r); counted as 0", where, key, value)
    return count or 0


def cost_usd(value: Any, where: str) -> float | None:
    """A provider-reported cost; None when missing or impossible (then the price list decides)."""
    number = _number(value, MAX_COST_USD)
    if number is None and value is not None:
        log.warning("%s reported an impossible cost (%.40r); ignored", where, value)
    return number


def required_counts(usage: Mapping[str, Any], keys: tuple[str, ...], where: str) -> tuple[int, ...] | None:
    """The counts under `keys`, all present and possible; None (usage missing) otherwise, with a warning when a
    value was there but impossible."""
    counts = tuple(token_count(usage.get(key)) for key in keys)
    if all(count is not None for count in counts):
        return tuple(count for count in counts if count is not None)
    bad = {key: usage.get(key) for key, count in zip(keys, counts, strict=True) if count is None}
    if any(value is not None for value in bad.values()):
        log.warning("%s reported impossible usage %.80r; the attempt is settled at its estimate", where, bad)
    return None


def impossible(usage: Mapping[str, Any], key: str, where: str) -> bool:
    """Whether the count under `key` is there but impossible (a missing one is not), with a warning if so."""
    return usage.get(key) is not None and required_counts(usage, (key,), where) is None
