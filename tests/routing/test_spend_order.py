"""Predictive quotas in decide(): quota that would go unused at its reset is spent first among a pool's accounts,
an account predicted to run out before its reset is paced, and each such choice is explained."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from routing.preferences import Preferences
from routing.types import QuotaWindow
from tests.routing.seed import NOW, cand, chosen, pool, prefs, run

MIDNIGHT = NOW.replace(hour=0)


def day(limit: int, remaining: int, resets_in: timedelta) -> QuotaWindow:
    return QuotaWindow(kind="requests", period="day", limit=limit, remaining=remaining, resets_at=NOW + resets_in)


def test_an_account_resetting_in_an_hour_with_half_left_beats_one_that_just_reset() -> None:
    per = {
        "google-1": {"windows": (day(20, 20, timedelta(hours=24)),)},  # just reset
        "google-2": {"windows": (day(20, 10, timedelta(hours=1)),)},  # half left, resets in an hour
    }
    decision = run(pool("google", 2, per=per), prefs=Preferences(default="google"))
    assert chosen(decision) == "google@google-2"
    assert decision.ranked[0].pool_note is not None
    assert "google-2: 10 of 20 requests left, reset in 1 h" in decision.ranked[0].pool_note
    assert any("google-2: 10 of 20 requests left" in line for line in decision.explanation)


def test_equal_outlooks_leave_the_pool_strategy_in_charge() -> None:
    per = {f"google-{i}": {"windows": (day(20, 20, timedelta(hours=12)),)} for i in (1, 2, 3)}
    decision = run(pool("google", 3, cursor=1, per=per), prefs=Preferences(default="google"))
    assert chosen(decision) == "google@google-2"
    assert decision.ranked[0].pool_note is None


def test_with_the_same_reset_the_account_with_the_most_left_unused_goes_first() -> None:
    per = {
        "google-1": {"windows": (day(20, 12, timedelta(hours=12)),)},
        "google-2": {"windows": (day(20, 19, timedelta(hours=12)),)},
        "google-3": {"windows": (day(20, 15, timedelta(hours=12)),)},
    }
    decision = run(pool("google", 3, per=per), prefs=Preferences(default="google"))
    assert [r.account for r in decision.ranked] == ["google-2", "google-3", "google-1"]


def test_an_account_with_few_requests_left_goes_after_one_with_more_left_before_the_same_reset() -> None:
    per = {
        "google-1": {"windows": (day(20, 2, timedelta(hours=12)),)},  # 2 left for 12 h against 10
        "google-2": {"windows": (day(20, 10, timedelta(hours=12)),)},
    }
    decision = run(pool("google", 2, per=per), prefs=Preferences(default="google"))
    assert [r.account for r in decision.ranked] == ["google-2", "google-1"]


def test_a_pool_that_runs_out_before_its_reset_is_kept_for_the_task_types_that_rank_it_first() -> None:
    paced = {f"google-{i}": {"windows": (day(20, 2, timedelta(hours=12)),)} for i in (1, 2)}
    candidates = [*pool("google", 2, per=paced), cand("zai")]
    # "simple" ranks google first: it keeps its quota
    simple = run(candidates, prefs=prefs(default="zai"), task_type="simple")
    assert simple.chosen is not None and simple.chosen.provider == "google"
    # no list ranks it for "creative"; with equal tiers it goes after zai, and the choice is a limit choice
    plain = Preferences(default=None, task_preferences={}, quality_preferences={})
    unpaced = run([*pool("google", 2), cand("zai")], prefs=plain, task_type="creative")
    assert unpaced.chosen is not None and unpaced.chosen.provider == "google"
    creative = run(candidates, prefs=plain, task_type="creative")
    assert creative.chosen is not None and creative.chosen.provider == "zai"
    assert creative.reason == "limit"
    assert any(line.startswith("paced google/") for line in creative.explanation)


def test_a_tie_keeps_a_conversation_on_the_account_holding_its_warm_prompt_cache() -> None:
    decision = run(pool("google", 3, per={"google-3": {"warm": True}}), prefs=Preferences(default="google"))
    assert chosen(decision) == "google@google-3"
    assert decision.ranked[0].pool_note == "google-3: holds the conversation's warm prompt cache"


def test_quota_that_would_go_unused_outweighs_a_warm_cache() -> None:
    per: dict[str, dict[str, Any]] = {
        "google-1": {"windows": (day(20, 20, timedelta(hours=1)),)},
        "google-2": {"windows": (day(20, 20, timedelta(hours=20)),)},
        "google-3": {"windows": (day(20, 20, timedelta(hours=20)),), "warm": True},
    }
    decision = run(pool("google", 3, per=per), prefs=Preferences(default="google"))
    assert chosen(decision) == "google@google-1"
