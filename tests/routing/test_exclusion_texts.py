"""What the caller reads about a candidate left out or a request nothing could serve says what really happened: a
rest after a server error is not a rate limit, a fix names a time only when there is one, and no text points at a
field the caller does not have."""

from __future__ import annotations

import pytest

from providers.attempts import AttemptRecord
from routing.outcome import Outcome, no_route_fix
from tests.routing.seed import LATER, cand, run

UNTIL = LATER.isoformat()


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        ("rate_limited: 429 Too Many Requests", f"rate limited until {UNTIL}"),
        ("rate_limited: no requests remaining (response headers)", f"rate limited until {UNTIL}"),
        ("server_error: 500 Internal Server Error", f"resting after a server error until {UNTIL}"),
        ("overloaded: 529 Overloaded", f"resting: the provider said it is overloaded until {UNTIL}"),
        ("transport: connection reset", f"resting after a transport failure (no answer) until {UNTIL}"),
        ("set by hand", f"cooling down until {UNTIL} (set by hand)"),
        (None, f"cooling down until {UNTIL}"),
    ],
)
def test_a_cooldown_is_described_by_what_caused_it(reason: str | None, text: str) -> None:
    decision = run([cand("openai", cooldown_until=LATER, cooldown_reason=reason), cand("kimi")])
    (exclusion,) = decision.excluded
    assert (exclusion.filter, exclusion.detail) == ("cooldown", text)


def test_an_open_breaker_reads_as_failing_with_its_time() -> None:
    decision = run([cand("openai", breaker_open_until=LATER), cand("kimi")])
    assert decision.excluded[0].detail == f"failing: circuit breaker open until {UNTIL}"


def test_when_no_candidate_is_left_the_message_points_at_no_missing_field() -> None:
    decision = run([cand("openai", cooldown_until=LATER), cand("kimi", enabled=False)])
    assert decision.error is not None
    assert "excluded`" not in decision.error.message
    assert decision.error.message.startswith("no candidate can serve this request (")


def test_the_fix_names_the_time_when_something_frees_up() -> None:
    fix = no_route_fix(LATER)
    assert LATER.isoformat(timespec="seconds") in fix and "above" not in fix


def test_without_a_known_reset_the_fix_does_not_ask_to_wait() -> None:
    outcome = Outcome(attempts=[AttemptRecord("openai", "m", "a", "error", latency_ms=0.0, started_at=LATER)])
    error = outcome.error(decision_id=7)
    assert error.retry_at is None and error.fix is not None
    assert "wait until" not in error.fix and "above" not in error.fix
    assert "add an account or provider" in error.fix
    assert "time above" not in str(error)
