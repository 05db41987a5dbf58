"""Rate-limit and retry headers, for all three wires: `parse_openai_limits`, `parse_anthropic_limits` and
`parse_gemini_limits` (each adapter's `parse_limits`), and the pure helpers they share."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from providers.types import RateLimits

_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_GO_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}

#: a retry hint longer than this (a month) is no real one
MAX_RETRY_AFTER_S = 31 * 24 * 3600.0
#: a limit or remaining count above this is no real one (and would not fit the store's integers)
MAX_HEADER_COUNT = 10**12

#: a per-minute limit above this is beyond any provider (a billion requests or tokens a minute): a header saying so
#: is noise, and would not fit the store's integers either
MAX_PLAUSIBLE_LIMIT = 10**9


def parse_go_duration(text: str) -> float | None:
    """Seconds in a Go-style duration such as `6m0s`, `1m26.4s`, `120ms` or `0s`; None when malformed."""
    text = text.strip()
    if not text:
        return None
    position = 0
    total = 0.0
    for match in _GO_DURATION_PART.finditer(text):
        if match.start() != position:
            return None
        total += float(match.group(1)) * _GO_UNIT_SECONDS[match.group(2)]
        position = match.end()
    return total if position == len(text) else None


def parse_seconds(text: str) -> float | None:
    """A plain number of seconds (`"20"`, `"1.5"`), or a Go duration; None when neither, negative or not finite."""
    try:
        value = float(text.strip())
    except ValueError:
        return parse_go_duration(text)
    return value if math.isfinite(value) and value >= 0 else None


def parse_timestamp(text: str) -> datetime | None:
    """An RFC 3339 timestamp (`2026-02-17T23:44:11Z`) as an aware datetime; None when malformed."""
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_reset(text: str, now: datetime) -> datetime | None:
    """A reset header in any form providers use: a duration from now, epoch seconds, or a timestamp."""
    seconds = parse_seconds(text)
    if seconds is not None:
        # epoch values are far larger than any relative reset: seconds (Moonshot) or milliseconds (OpenRouter)
        if seconds > 10**11:
            seconds /= 1000.0
        if seconds > 10**9:
            try:
                return datetime.fromtimestamp(seconds, tz=UTC)
            except (OverflowError, OSError, ValueError):
                return None
        try:
            return now + timedelta(seconds=seconds)
        except OverflowError:
            return None
    return parse_timestamp(text)


def parse_retry_after(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds to wait from `retry-after-ms`, then `retry-after` (seconds or an HTTP-date); an impossible hint
    (beyond a month) is none."""
    seconds = _retry_after(headers, now)
    return seconds if seconds is not None and seconds <= MAX_RETRY_AFTER_S else None


def _retry_after(headers: Mapping[str, str], now: datetime) -> float | None:
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        seconds = parse_seconds(milliseconds)
        if seconds is not None:
            return seconds / 1000.0
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = parse_seconds(value)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def header_int(headers: Mapping[str, str], name: str) -> int | None:
    """A count header; None when missing or impossible: not a number, not finite, negative or absurd."""
    value = headers.get(name)
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return int(number) if math.isfinite(number) and 0 <= number <= MAX_HEADER_COUNT else None


def plausible_limit(value: int | None) -> int | None:
    """`value` when it can be a real per-minute limit; None for 0, a negative or an absurd number.

    A limit of 0 would refuse every later call without end (a proxy's placeholder or a bug says it, never a
    provider that just served the call), so it is no information.
    """
    return value if value is not None and 0 < value <= MAX_PLAUSIBLE_LIMIT else None


def learnable(limits: RateLimits) -> RateLimits:
    """What of `limits` is worth remembering: implausible limits dropped, and with each its `remaining` and reset
    (a "0 left of 0" says nothing either)."""
    update: dict[str, object] = {}
    for kind, limit in (("requests", limits.requests_limit), ("tokens", limits.tokens_limit)):
        if limit is not None and plausible_limit(limit) is None:
            update |= {f"{kind}_limit": None, f"{kind}_remaining": None, f"{kind}_reset_at": None}
    return limits.model_copy(update=update) if update else limits


def without_requests_limit(limits: RateLimits) -> RateLimits:
    """`limits` less the requests limit: for a vendor whose request count is per day (Groq), which the router
    must not take for a per-minute one. What is left and when it resets still stand: none left still waits."""
    return limits.model_copy(update={"requests_limit": None}) if limits.requests_limit is not None else limits


# --- the three wires ------------------------------------------------------------------------------------------


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names folded to lower case, so any mapping (a plain dict too) is read case-insensitively."""
    return {name.lower(): value for name, value in headers.items()}


def _reset_at(text: str | None, now: datetime) -> datetime | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return parse_reset(text, now)
    if not math.isfinite(value):
        return None
    if value > 1e11:  # epoch milliseconds (OpenRouter); parse_reset understands epoch seconds
        try:
            return datetime.fromtimestamp(value / 1000.0, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        return parse_reset(text, now)
    except (OverflowError, ValueError):
        return None


def parse_openai_limits(headers: Mapping[str, str], now: datetime) -> RateLimits:
    """Rate limits from OpenAI-style `x-ratelimit-*-{requests,tokens}`, Moonshot's `X-RateLimit-*` and retry hints."""
    h = lower_headers(headers)
    return RateLimits(
        requests_limit=_first_int(h, "x-ratelimit-limit-requests", "x-ratelimit-limit"),
        requests_remaining=_first_int(h, "x-ratelimit-remaining-requests", "x-ratelimit-remaining"),
        requests_reset_at=_reset_at(h.get("x-ratelimit-reset-requests", h.get("x-ratelimit-reset")), now),
        tokens_limit=header_int(h, "x-ratelimit-limit-tokens"),
        tokens_remaining=header_int(h, "x-ratelimit-remaining-tokens"),
        tokens_reset_at=_reset_at(h.get("x-ratelimit-reset-tokens"), now),
        retry_after_s=parse_retry_after(h, now),
    )


def _first_int(headers: Mapping[str, str], *names: str) -> int | None:
    for name in names:
        value = header_int(headers, name)
        if value is not None:
            return value
    return None


def _limit_group(
    headers: Mapping[str, str], name: str, now: datetime
) -> tuple[int | None, int | None, datetime | None]:
    prefix = f"anthropic-ratelimit-{name}-"
    reset = headers.get(prefix + "reset")
    return (
        header_int(headers, prefix + "limit"),
        header_int(headers, prefix + "remaining"),
        parse_reset(reset, now) if reset else None,
    )


def parse_anthropic_limits(headers: Mapping[str, str], now: datetime) -> RateLimits:
    """`anthropic-ratelimit-*` headers (any case) as `RateLimits`; resets are RFC 3339 absolute times.

    The `tokens-*` bucket is the combined one; an endpoint that only sends `input-tokens-*` is read from that.
    `output-tokens-*` has no field of its own: output is what a request cannot size in advance.
    """
    lowered = lower_headers(headers)
    requests = _limit_group(lowered, "requests", now)
    tokens = _limit_group(lowered, "tokens", now)
    if tokens == (None, None, None):
        tokens = _limit_group(lowered, "input-tokens", now)
    return RateLimits(
        requests_limit=requests[0],
        requests_remaining=requests[1],
        requests_reset_at=requests[2],
        tokens_limit=tokens[0],
        tokens_remaining=tokens[1],
        tokens_reset_at=tokens[2],
        retry_after_s=parse_retry_after(lowered, now),
    )


def parse_gemini_limits(headers: Mapping[str, str], now: datetime) -> RateLimits:
    """Google sends no rate-limit headers; only a `retry-after` (from a proxy, say) is read."""
    return RateLimits(retry_after_s=parse_retry_after(lower_headers(headers), now))
