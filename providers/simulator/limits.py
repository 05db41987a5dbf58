"""Per-account request windows and the rate-limit headers each flavour sends about them."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from providers.simulator.spec import Flavour
from providers.values import read_only_hashable

WINDOW_S = 60.0


@read_only_hashable
class WindowState:
    """Where an account stands in its per-minute window at the moment of one request."""

    limit: int
    remaining: int
    reset_in_s: float
    now: float

    @property
    def exceeded(self) -> bool:
        return self.remaining < 0

    @property
    def retry_after_s(self) -> int:
        return max(1, math.ceil(self.reset_in_s))


class RequestWindow:
    """A fixed 60 s window opened by the first request in it (how the simulator models RPM)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._start: float | None = None
        self._count = 0

    def take(self, now: float) -> WindowState:
        """Count one request at `now` and say what is left; `remaining` goes negative past the limit."""
        if self._start is None or now >= self._start + WINDOW_S:
            self._start, self._count = now, 0
        self._count += 1
        return WindowState(self.limit, self.limit - self._count, self._start + WINDOW_S - now, now)

    def clear(self) -> None:
        self._start, self._count = None, 0


def go_duration(seconds: float) -> str:
    """Format like Go's time.Duration.String as OpenAI sends it: `0s`, `120ms`, `1.5s`, `6m0s`, `1m26.4s`."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    minutes, rest = divmod(round(seconds, 3), 60)
    text = f"{rest:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text


def _rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(math.ceil(epoch), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ratelimit_headers(flavour: Flavour, state: WindowState) -> tuple[tuple[str, str], ...]:
    """The request-bucket headers `flavour` sends; Z.AI, DeepSeek, OpenRouter and Gemini send none."""
    remaining = max(0, state.remaining)
    if flavour == "openai":
        return (
            ("x-ratelimit-limit-requests", str(state.limit)),
            ("x-ratelimit-remaining-requests", str(remaining)),
            ("x-ratelimit-reset-requests", go_duration(state.reset_in_s)),
        )
    if flavour == "anthropic":
        return (
            ("anthropic-ratelimit-requests-limit", str(state.limit)),
            ("anthropic-ratelimit-requests-remaining", str(remaining)),
            ("anthropic-ratelimit-requests-reset", _rfc3339(state.now + state.reset_in_s)),
        )
    if flavour == "moonshot":
        return (
            ("X-RateLimit-Limit", str(state.limit)),
            ("X-RateLimit-Remaining", str(remaining)),
            ("X-RateLimit-Reset", str(math.ceil(state.now + state.reset_in_s))),
        )
    return ()
