"""The mappers between storage's rows and routing's values, each on its own (the ports' trips to SQLite are covered
by the router's end-to-end tests)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from providers.models import Account, BudgetSpec, CredentialRef, ProviderConfig, QuotaSpec
from providers.types import Message
from routing.ports import Hold, Refusal
from routing.preferences import Preferences
from routing.types import ManualSwitch
from server.wiring.quota_rows import budget_left, latest_active, pool_cursor, quota_windows
from server.wiring.store_ports import _cooldown_reason, _hold, _record
from storage import Conversation, Health, Refused, Reservation, Usages, WindowUsage
from storage.conversations import Pin
from tests.clock import FIXED_NOW, FixedClock
from tests.harness import seed_app

NOW = FIXED_NOW
KEY = CredentialRef(source="env", name="K")


def _account(account_id: str = "a1", **fields: object) -> Account:
    return Account.model_validate(
        {"id": account_id, "provider": "p", "kind": "openai", "base_url": "http://x", "credential": KEY, **fields}
    )


NONE_USED = WindowUsage()


def _usages(minute: WindowUsage = NONE_USED, day: WindowUsage = NONE_USED, month: WindowUsage = NONE_USED) -> Usages:
    return Usages(minute, day, month, day_resets_at=NOW + timedelta(hours=3), month_resets_at=NOW + timedelta(days=9))


def test_latest_active_is_the_latest_time_still_ahead() -> None:
    past, soon, later = NOW - timedelta(minutes=1), NOW + timedelta(minutes=1), NOW + timedelta(hours=1)
    assert latest_active(past, soon, None, later, now=NOW) == later
    assert latest_active(past, None, now=NOW) is None
    assert latest_active(None, None, now=NOW) is None
    assert latest_active(now=NOW) is None


def test_configured_limits_become_windows_with_what_is_left_and_when_they_reset() -> None:
    quota = QuotaSpec(requests_per_minute=10, requests_per_day=100, tokens_per_month=1000)
    usage = _usages(minute=WindowUsage(requests=3), day=WindowUsage(requests=40), month=WindowUsage(tokens=250))
    windows = {(w.kind, w.period): w for w in quota_windows(quota, usage, Health(), NOW)}
    assert set(windows) == {("requests", "minute"), ("requests", "day"), ("tokens", "month")}
    assert (windows["requests", "minute"].remaining, windows["requests", "minute"].resets_at) == (
        7,
        NOW + timedelta(minutes=1),
    )
    assert (windows["requests", "day"].remaining, windows["requests", "day"].resets_at) == (60, usage.day_resets_at)
    assert windows["tokens", "month"].remaining == 750
    assert all(w.learned_at is None for w in windows.values())


def test_a_learned_minute_limit_replaces_the_configured_one_and_counts_the_models_own_minute() -> None:
    health = Health(learned_requests_limit=5, learned_at=NOW - timedelta(seconds=30))
    usage = _usages(minute=WindowUsage(requests=4))
    [minute] = quota_windows(QuotaSpec(requests_per_minute=50), usage, health, NOW, WindowUsage(requests=1))
    assert (minute.limit, minute.remaining, minute.learned_at) == (5, 4, health.learned_at)


def test_an_account_without_limits_has_no_windows_whatever_its_zone_and_a_learned_limit_alone_makes_one() -> None:
    busy = _usages(minute=WindowUsage(requests=9), day=WindowUsage(requests=90, tokens=900))
    assert quota_windows(QuotaSpec(), busy, Health(), NOW) == ()
    assert quota_windows(QuotaSpec(timezone="America/Los_Angeles"), busy, Health(), NOW) == ()
    learned = Health(learned_tokens_limit=1000, learned_at=NOW - timedelta(seconds=5))
    [minute] = quota_windows(QuotaSpec(), busy, learned, NOW)
    assert (minute.kind, minute.period, minute.limit, minute.learned_at) == (
        "tokens",
        "minute",
        1000,
        learned.learned_at,
    )
    [daily] = quota_windows(QuotaSpec(tokens_per_day=1000), busy, Health(), NOW)
    assert (daily.period, daily.remaining) == ("day", 100)


def test_the_budget_left_is_the_smallest_of_the_accounts_and_the_global_caps_never_below_zero() -> None:
    account = _account(budget=BudgetSpec(daily_usd=2.0))
    prefs = Preferences(budget=BudgetSpec(monthly_usd=10.0))
    spent = _usages(day=WindowUsage(cost_usd=0.5))
    assert budget_left(account, spent, prefs, _usages(month=WindowUsage(cost_usd=9.0))) == 1.0
    assert budget_left(account, spent, prefs, _usages(month=WindowUsage(cost_usd=11.0))) == 0.0
    assert budget_left(_account(), spent, Preferences(), spent) is None


def test_the_pool_cursor_points_after_the_account_chosen_last() -> None:
    pool = ProviderConfig(
        id="p",
        kind="openai",
        label="P",
        base_url="http://x",
        catalog="openai",
        accounts=(_account("a1"), _account("a2"), _account("a3")),
    )
    assert [pool_cursor(pool, last) for last in ("a1", "a2", "a3", None, "gone")] == [1, 2, 0, 0, 0]


def test_the_cooldown_reason_is_the_one_lasting_longer() -> None:
    account = Health(cooldown_until=NOW + timedelta(minutes=1), cooldown_reason="rate_limited")
    model = Health(cooldown_until=NOW + timedelta(minutes=5), cooldown_reason="overloaded")
    assert _cooldown_reason(account, model, NOW) == "overloaded"
    assert _cooldown_reason(account, Health(cooldown_until=NOW, cooldown_reason="over"), NOW) == "rate_limited"
    assert _cooldown_reason(Health(), Health(), NOW) is None


def test_an_unknown_conversation_is_a_new_one_keeping_a_valid_id_and_a_known_one_carries_its_pin() -> None:
    assert _record("mine-1", None).state.id == "mine-1" and not _record("mine-1", None).exists
    assert len(_record("not valid!", None).state.id) == 32
    found = Conversation(
        id="c1", created_at=NOW, updated_at=NOW, messages=(Message(role="user", content="hi"),),
        pinned=Pin("kimi", None, NOW), current_provider="zai", current_model="glm", preferred_provider=None,
        preferred_model=None, tokens_used=12, last_task_type="coding", history_tokens=None,
    )  # fmt: skip
    record = _record("c1", found)
    assert record.exists and record.messages == found.messages
    assert record.state.pin == ManualSwitch(provider="kimi", model=None, conversation_id="c1")
    assert (record.state.current_provider, record.state.last_task_type) == ("zai", "coding")
    assert record.state.history_tokens > 0  # counted from the messages when the router did not save the count


def test_a_refused_reservation_becomes_a_refusal_and_a_granted_one_a_hold() -> None:
    refused = Refused("requests_per_day", "account a1", NOW + timedelta(hours=1), "20 used")
    assert _hold(refused) == Refusal("requests_per_day", "account a1", NOW + timedelta(hours=1), "20 used")
    granted = Reservation(1, "a1", "m", 10, 0.01, NOW, NOW + timedelta(minutes=5))
    assert _hold(granted) == Hold(granted)


@pytest.mark.anyio
async def test_the_view_marks_a_candidate_as_in_flight_while_a_call_of_it_holds_a_reservation(
    tmp_path: Path,
) -> None:
    clock = FixedClock()
    async with seed_app(tmp_path, clock=clock) as (app, _sim):
        seeds = await app.router.seeds()
        called = seeds[0]

        async def in_flight() -> set[tuple[str, str, str]]:
            view = await app.router.ports.state.view(seeds, None, clock.now)
            return {(c.provider, c.model.id, c.account) for c in view.candidates if c.in_flight}

        before = await in_flight()
        held = await app.store.write(
            app.ledger.reserve_job(
                called.account, called.model.id, estimated_tokens=10, worst_case_cost_usd=0.0, now=clock.now
            )
        )
        assert isinstance(held, Reservation)
        during = await in_flight()
    assert before == set()
    assert during == {(called.provider.id, called.model.id, called.account.id)}
