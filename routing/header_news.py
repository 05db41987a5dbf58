"""Whether a response's rate-limit headers tell the shared store something new (routing/attempt.py writes a
`Learn` only then, which saves a write on every ordinary success). Pure."""

from __future__ import annotations

from datetime import datetime, timedelta

from providers.types import RateLimits
from routing.types import CandidateState, QuotaWindow

#: a limit learned from headers is written again when it is this old, so it stays in force (the store forgets one
#: after a minute) while calls keep coming
LEARNED_REFRESH = timedelta(seconds=30)
#: a per-minute window the headers say has 1/SCARCE_SHARE or less left is stored (what is left, until its reset)
SCARCE_SHARE = 4


def header_news(limits: RateLimits, state: CandidateState | None, now: datetime) -> bool:
    """Whether response headers tell the store something new: a per-minute limit other than the one in force, one
    about to be forgotten (learned half its lifetime ago), or nothing left until a reset (a cooldown). Saves a write
    on every ordinary success."""
    if state is None:
        return True
    if any(left is not None and left <= 0 for left in (limits.requests_remaining, limits.tokens_remaining)):
        return True
    if _scarce(limits):
        return True
    known: dict[str, QuotaWindow] = {w.kind: w for w in state.windows if w.period == "minute"}
    for kind, limit in (("requests", limits.requests_limit), ("tokens", limits.tokens_limit)):
        if limit is None:
            continue
        window = known.get(kind)
        if window is None or window.limit != limit or window.learned_at is None:
            return True
        if now - window.learned_at >= LEARNED_REFRESH:
            return True
    return False


def _scarce(limits: RateLimits) -> bool:
    """Whether the headers say a per-minute window is nearly used up (a quarter or less left): worth storing, so
    every process counts below it (routing/forecast.py reads it as the window's `remaining`)."""
    return any(
        left is not None and limit and left * SCARCE_SHARE <= limit
        for left, limit in (
            (limits.requests_remaining, limits.requests_limit),
            (limits.tokens_remaining, limits.tokens_limit),
        )
    )
