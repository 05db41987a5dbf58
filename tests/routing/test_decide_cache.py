"""What decide() keeps between calls to go faster (per-setup parts, texts of repeated times, a pool already in order)
never changes what a call answers: a later call with other preferences, another zone or another cursor reads its
own."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta, timezone

from tests.routing.seed import LATER, cand, pool, prefs, run

PARIS = timezone(timedelta(hours=1))


def accounts(decision: object) -> list[str]:
    return [r.account for r in decision.ranked]  # type: ignore[attr-defined]


def test_the_same_cooldown_end_in_another_zone_is_written_with_that_zones_offset() -> None:
    in_utc = run([cand("openai", cooldown_until=LATER), cand("kimi")])
    in_paris = run([cand("openai", cooldown_until=LATER.astimezone(PARIS)), cand("kimi")])
    assert in_utc.excluded[0].detail == f"cooling down until {LATER.isoformat()}"
    assert in_paris.excluded[0].detail == f"cooling down until {LATER.astimezone(PARIS).isoformat()}"


def test_a_breaker_and_a_quota_end_read_their_own_times_after_a_cooldown_at_the_same_instant() -> None:
    run([cand("openai", cooldown_until=LATER), cand("kimi")])
    later = LATER + timedelta(microseconds=1)
    decision = run([cand("openai", breaker_open_until=later), cand("zai", exhausted_until=LATER), cand("kimi")])
    texts = {x.account: x.detail for x in decision.excluded}
    assert texts == {
        "openai": f"failing: circuit breaker open until {later.isoformat()}",
        "zai": f"quota exhausted until {LATER.isoformat()}",
    }


def test_a_pool_in_order_and_the_same_pool_past_its_cursor_each_keep_their_own_order() -> None:
    assert accounts(run(pool("google", 3, cursor=0))) == ["google-1", "google-2", "google-3"]
    assert accounts(run(pool("google", 3, cursor=1))) == ["google-2", "google-3", "google-1"]
    assert accounts(run(pool("google", 3, cursor=0))) == ["google-1", "google-2", "google-3"]


def test_a_warm_account_leads_a_pool_without_quota_windows_only_in_the_call_that_says_so() -> None:
    warm = run(pool("google", 3, per={"google-3": {"warm": True}}))
    cold = run(pool("google", 3))
    assert accounts(warm) == ["google-3", "google-1", "google-2"]
    assert warm.ranked[0].pool_note == "google-3: holds the conversation's warm prompt cache"
    assert accounts(cold) == ["google-1", "google-2", "google-3"] and cold.ranked[0].pool_note is None


def test_preferences_that_change_between_calls_rank_by_the_new_lists() -> None:
    candidates = [cand("openai"), cand("anthropic")]
    first = run(candidates, prefs=prefs(task_preferences={"coding": ("openai", "anthropic")}))
    second = run(candidates, prefs=prefs(task_preferences={"coding": ("anthropic", "openai")}))
    assert [r.provider for r in first.ranked] == ["openai", "anthropic"]
    assert [r.provider for r in second.ranked] == ["anthropic", "openai"]


def test_deciding_leaves_every_candidate_as_it_was() -> None:
    candidates = [cand("openai", cooldown_until=LATER), *pool("google", 3, cursor=1, per={"google-2": {"warm": True}})]
    before = [replace(c) for c in candidates]
    run(candidates)
    assert candidates == before
