"""The ledger in one process, with an injected clock: windows, budgets, settle, release, expiry, learned limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from providers.models import BudgetSpec
from providers.types import RateLimits, Usage
from storage.accounts import AccountStates, cooldown_job, disable_job, learn_job, retired_job
from storage.db import Store
from storage.ledger import Ledger, Refused, Reservation, reap_job, release_job, settle_job
from storage.snapshot import StateSnapshot
from tests.storage.conftest import NOW, make_account

pytestmark = pytest.mark.anyio

SECOND = timedelta(seconds=1)


async def reserve(
    store: Store,
    ledger: Ledger,
    account_id: str = "acct-1",
    *,
    now: datetime = NOW,
    tokens: int = 10,
    cost: float = 0.0,
    **kw: Any,
) -> Reservation | Refused:
    account = make_account(account_id, **kw)
    return await store.write(
        ledger.reserve_job(account, "model-a", estimated_tokens=tokens, worst_case_cost_usd=cost, now=now)
    )


async def test_the_request_after_the_daily_limit_is_refused_until_local_midnight(store: Store) -> None:
    ledger = Ledger(store)
    quota: dict[str, Any] = {"requests_per_day": 2, "timezone": "America/Los_Angeles"}
    assert isinstance(await reserve(store, ledger, **quota), Reservation)
    assert isinstance(await reserve(store, ledger, **quota), Reservation)
    refused = await reserve(store, ledger, **quota)
    assert refused == Refused(
        "requests_per_day", "account:acct-1", datetime(2026, 11, 29, 8, tzinfo=UTC), "2 used of 2"
    )
    # 08:00 UTC is midnight Pacific: a new day for this account.
    assert isinstance(await reserve(store, ledger, now=datetime(2026, 11, 29, 8, tzinfo=UTC), **quota), Reservation)


async def test_the_monthly_request_limit_spans_days(store: Store) -> None:
    ledger = Ledger(store)
    first = await reserve(store, ledger, requests_per_month=1)
    assert isinstance(first, Reservation)
    await store.run(settle_job(first, usage=Usage(), cost_usd=0, now=NOW))
    refused = await reserve(store, ledger, now=NOW + timedelta(days=2), requests_per_month=1)
    assert isinstance(refused, Refused)
    assert (refused.limit, refused.resets_at) == ("requests_per_month", datetime(2026, 12, 1, tzinfo=UTC))
    assert isinstance(
        await reserve(store, ledger, now=datetime(2026, 12, 1, tzinfo=UTC), requests_per_month=1), Reservation
    )


async def test_settling_replaces_the_token_estimate_with_the_real_usage(store: Store) -> None:
    ledger = Ledger(store)
    first = await reserve(store, ledger, tokens=600, tokens_per_day=1000)
    assert isinstance(first, Reservation)
    refused = await reserve(store, ledger, tokens=600, tokens_per_day=1000)
    assert isinstance(refused, Refused) and refused.limit == "tokens_per_day"
    assert await store.run(settle_job(first, usage=Usage(input_tokens=80, output_tokens=20), cost_usd=0.0, now=NOW))
    assert isinstance(await reserve(store, ledger, tokens=600, tokens_per_day=1000), Reservation)


async def test_the_worst_case_cost_is_held_until_the_real_cost_is_known(store: Store) -> None:
    ledger = Ledger(store)
    budget = BudgetSpec(daily_usd=1.0)
    first = await reserve(store, ledger, cost=0.6, budget=budget)
    assert isinstance(first, Reservation)
    refused = await reserve(store, ledger, cost=0.6, budget=budget)
    assert isinstance(refused, Refused)
    assert (refused.limit, refused.scope) == ("budget_daily_usd", "account:acct-1")
    await store.run(settle_job(first, usage=Usage(input_tokens=5), cost_usd=0.1, now=NOW))
    assert isinstance(await reserve(store, ledger, cost=0.6, budget=budget), Reservation)


async def test_budget_sums_are_exact_for_ten_calls_of_ten_cents(store: Store) -> None:
    ledger = Ledger(store)
    budget = BudgetSpec(daily_usd=1.0)
    for _ in range(10):
        reservation = await reserve(store, ledger, cost=0.1, budget=budget)
        assert isinstance(reservation, Reservation)
        await store.run(settle_job(reservation, usage=Usage(), cost_usd=0.1, now=NOW))
    assert isinstance(await reserve(store, ledger, cost=0.1, budget=budget), Refused)
    assert isinstance(await reserve(store, ledger, cost=0.0, budget=budget), Reservation)


async def test_the_global_budget_caps_every_account_together(store: Store) -> None:
    ledger = Ledger(store, budget=BudgetSpec(monthly_usd=1.0), timezone="Europe/Berlin")
    assert isinstance(await reserve(store, ledger, "a", cost=0.7), Reservation)
    refused = await reserve(store, ledger, "b", cost=0.7)
    assert isinstance(refused, Refused)
    assert (refused.limit, refused.scope) == ("budget_monthly_usd", "global")
    assert refused.resets_at == datetime(2026, 11, 30, 23, tzinfo=UTC)  # midnight in Berlin


async def test_a_call_larger_than_the_whole_limit_never_fits(store: Store) -> None:
    ledger = Ledger(store)
    refused = await reserve(store, ledger, tokens=5000, tokens_per_day=1000)
    assert isinstance(refused, Refused)
    assert refused.resets_at is None
    refused = await reserve(store, ledger, cost=2.0, budget=BudgetSpec(daily_usd=1.0))
    assert isinstance(refused, Refused) and refused.resets_at is None


async def test_a_released_reservation_counts_nothing_and_cannot_be_settled(store: Store) -> None:
    ledger = Ledger(store)
    reservation = await reserve(store, ledger, requests_per_day=1)
    assert isinstance(reservation, Reservation)
    assert await store.run(release_job(reservation, now=NOW))
    assert not await store.run(release_job(reservation, now=NOW))
    assert not await store.run(settle_job(reservation, usage=Usage(input_tokens=1), cost_usd=1.0, now=NOW))
    assert isinstance(await reserve(store, ledger, requests_per_day=1), Reservation)
    snapshot = await ledger.snapshot([make_account()], NOW)
    assert snapshot.accounts["acct-1"].usage.day.requests == 1


async def test_settling_twice_counts_once(store: Store) -> None:
    ledger = Ledger(store)
    reservation = await reserve(store, ledger)
    assert isinstance(reservation, Reservation)
    assert await store.run(settle_job(reservation, usage=Usage(input_tokens=7), cost_usd=0.5, now=NOW))
    assert not await store.run(settle_job(reservation, usage=Usage(input_tokens=7), cost_usd=0.5, now=NOW))
    snapshot = await ledger.snapshot([make_account()], NOW)
    assert snapshot.accounts["acct-1"].usage.day.requests == 1
    assert snapshot.global_usage.month.cost_usd == 0.5


async def test_an_unsettled_reservation_counts_until_it_expires(store: Store) -> None:
    ledger = Ledger(store)
    account = make_account(requests_per_day=1)
    held = await store.write(
        ledger.reserve_job(account, "m", estimated_tokens=1, worst_case_cost_usd=0, now=NOW, ttl=timedelta(minutes=5))
    )
    assert isinstance(held, Reservation)
    assert held.expires_at == NOW + timedelta(minutes=5)
    later = NOW + timedelta(minutes=5) - SECOND
    assert isinstance(
        await store.write(ledger.reserve_job(account, "m", estimated_tokens=1, worst_case_cost_usd=0, now=later)),
        Refused,
    )
    expired = NOW + timedelta(minutes=5)
    assert (await ledger.snapshot([account], expired)).accounts["acct-1"].usage.day.requests == 0
    assert isinstance(
        await store.write(ledger.reserve_job(account, "m", estimated_tokens=1, worst_case_cost_usd=0, now=expired)),
        Reservation,
    )
    assert await store.write(reap_job(expired)) == 1


async def test_a_call_settled_after_its_reservation_expired_is_still_counted(store: Store) -> None:
    ledger = Ledger(store)
    account = make_account()
    held = await store.write(
        ledger.reserve_job(account, "m", estimated_tokens=1, worst_case_cost_usd=0, now=NOW, ttl=timedelta(minutes=1))
    )
    assert isinstance(held, Reservation)
    late = NOW + timedelta(minutes=3)
    assert await store.write(reap_job(late)) == 1
    assert await store.run(settle_job(held, usage=Usage(output_tokens=9), cost_usd=0.02, now=late))
    usage = (await ledger.snapshot([account], late)).accounts["acct-1"].usage
    assert (usage.day.requests, usage.day.tokens, usage.day.cost_usd) == (1, 9, 0.02)


async def test_reap_deletes_old_finished_rows_but_keeps_the_totals(store: Store) -> None:
    ledger = Ledger(store)
    reservation = await reserve(store, ledger)
    assert isinstance(reservation, Reservation)
    await store.run(settle_job(reservation, usage=Usage(input_tokens=3), cost_usd=0, now=NOW))
    await store.write(reap_job(NOW + timedelta(days=2)))
    assert list(await store.fetchall("SELECT id FROM reservations")) == []
    usage = (await ledger.snapshot([make_account()], NOW + timedelta(hours=1))).accounts["acct-1"].usage
    assert (usage.day.requests, usage.day.tokens) == (1, 3)


async def test_the_rolling_minute_frees_room_as_calls_leave_it(store: Store) -> None:
    ledger = Ledger(store)
    assert isinstance(await reserve(store, ledger, requests_per_minute=2), Reservation)
    assert isinstance(await reserve(store, ledger, now=NOW + 10 * SECOND, requests_per_minute=2), Reservation)
    refused = await reserve(store, ledger, now=NOW + 20 * SECOND, requests_per_minute=2)
    assert refused == Refused(
        "requests_per_minute", "account:acct-1", NOW + 60 * SECOND, "2 used of 2 in the last minute"
    )
    assert isinstance(await reserve(store, ledger, now=NOW + 60 * SECOND, requests_per_minute=2), Reservation)


async def test_tokens_per_minute_count_estimates_and_settled_usage(store: Store) -> None:
    ledger = Ledger(store)
    first = await reserve(store, ledger, tokens=600, tokens_per_minute=1000)
    assert isinstance(first, Reservation)
    assert isinstance(await reserve(store, ledger, tokens=600, tokens_per_minute=1000), Refused)
    await store.run(settle_job(first, usage=Usage(input_tokens=100), cost_usd=0, now=NOW))
    assert isinstance(await reserve(store, ledger, tokens=600, tokens_per_minute=1000), Reservation)


async def test_cooldown_exhaustion_and_disabling_refuse_with_their_reason(store: Store) -> None:
    ledger, states = Ledger(store), AccountStates(store)
    await store.run(cooldown_job("acct-1", "model-a", NOW + 30 * SECOND, "429 from provider", NOW))
    refused = await reserve(store, ledger)
    assert refused == Refused("cooldown", "account:acct-1/model:model-a", NOW + 30 * SECOND, "429 from provider")
    other = await store.write(
        ledger.reserve_job(make_account(), "model-b", estimated_tokens=1, worst_case_cost_usd=0, now=NOW)
    )
    assert isinstance(other, Reservation)
    assert isinstance(await reserve(store, ledger, now=NOW + 30 * SECOND), Reservation)
    await states.set_exhausted("acct-1", None, NOW + timedelta(hours=5), "PerDay quota", NOW)
    refused = await reserve(store, ledger)
    assert isinstance(refused, Refused) and (refused.limit, refused.scope) == ("exhausted", "account:acct-1")
    await store.run(disable_job("acct-1", "401: key refused", NOW))
    assert await reserve(store, ledger, now=NOW + timedelta(days=1)) == Refused(
        "disabled", "account:acct-1", None, "401: key refused"
    )
    await states.enable("acct-1")
    assert isinstance(await reserve(store, ledger, now=NOW + timedelta(days=1)), Reservation)


async def test_a_limit_learned_from_headers_replaces_the_configured_one_for_that_model(store: Store) -> None:
    ledger = Ledger(store)
    await store.write(learn_job("acct-1", "model-a", RateLimits(requests_limit=3, tokens_limit=100_000), NOW))
    for i in range(3):
        assert isinstance(await reserve(store, ledger, now=NOW + i * SECOND, requests_per_minute=1), Reservation)
    refused = await reserve(store, ledger, now=NOW + 3 * SECOND, requests_per_minute=1)
    assert isinstance(refused, Refused)
    assert (refused.limit, refused.scope) == ("requests_per_minute", "account:acct-1/model:model-a")
    health = (await ledger.snapshot([make_account()], NOW)).accounts["acct-1"].model("model-a").health
    assert (health.learned_requests_limit, health.learned_tokens_limit) == (3, 100_000)


async def test_headers_saying_nothing_remains_cool_the_model_down_until_the_reset(store: Store) -> None:
    ledger = Ledger(store)
    reset = NOW + 17 * SECOND
    await store.write(learn_job("acct-1", "model-a", RateLimits(requests_remaining=0, requests_reset_at=reset), NOW))
    refused = await reserve(store, ledger)
    assert isinstance(refused, Refused)
    assert (refused.limit, refused.resets_at) == ("cooldown", reset)
    assert isinstance(await reserve(store, ledger, now=reset), Reservation)


async def test_the_snapshot_reports_every_window_model_and_health_at_once(store: Store) -> None:
    ledger = Ledger(store, timezone="America/Los_Angeles")
    account = make_account(timezone="Asia/Kolkata", requests_per_minute=10)
    yesterday = await store.write(
        ledger.reserve_job(account, "m", estimated_tokens=5, worst_case_cost_usd=1, now=NOW - timedelta(days=1))
    )
    assert isinstance(yesterday, Reservation)
    await store.run(settle_job(yesterday, usage=Usage(input_tokens=5), cost_usd=0.25, now=NOW - timedelta(days=1)))
    pending = await store.write(
        ledger.reserve_job(account, "m", estimated_tokens=40, worst_case_cost_usd=0.5, now=NOW - 30 * SECOND)
    )
    assert isinstance(pending, Reservation)
    await store.run(retired_job("google", "gemini-1.0-pro", "404 model not found", NOW))
    await store.run(disable_job("acct-2", "401", NOW))
    snapshot = await ledger.snapshot([account, make_account("acct-2")], NOW)
    usage = snapshot.accounts["acct-1"].usage
    assert (usage.minute.requests, usage.day.requests, usage.month.requests) == (1, 1, 2)
    assert (usage.day.cost_usd, usage.month.cost_usd) == (0.5, 0.75)
    assert usage.day_resets_at == datetime(2026, 11, 28, 18, 30, tzinfo=UTC)
    assert snapshot.accounts["acct-1"].model("m").usage.month.tokens == 45
    assert snapshot.global_usage.day_resets_at == datetime(2026, 11, 29, 8, tzinfo=UTC)
    assert snapshot.global_usage.month.cost_usd == 0.75
    assert snapshot.accounts["acct-2"].disabled_reason == "401"
    assert snapshot.retired == {("google", "gemini-1.0-pro"): "404 model not found"}
    assert snapshot.accounts["acct-2"].model("never-used").usage.day.requests == 0


async def test_every_call_in_flight_holds_its_room_in_the_snapshot_and_in_the_check(store: Store) -> None:
    ledger = Ledger(store, budget=BudgetSpec(daily_usd=1.0))
    quota: dict[str, Any] = {"requests_per_day": 7, "requests_per_month": 7}
    day_long = timedelta(days=2)
    for account_id, model, count in (("acct-1", "model-a", 3), ("acct-1", "model-b", 2), ("acct-2", "model-a", 2)):
        account = make_account(account_id, **quota)
        for _ in range(count):
            held = await store.write(
                ledger.reserve_job(account, model, estimated_tokens=10, worst_case_cost_usd=0.1, now=NOW, ttl=day_long)
            )
            assert isinstance(held, Reservation)
    yesterday = NOW - timedelta(days=1)
    held = await store.write(
        ledger.reserve_job(
            make_account("acct-1", **quota),
            "model-a",
            estimated_tokens=10,
            worst_case_cost_usd=0.1,
            now=yesterday,
            ttl=day_long,
        )
    )
    assert isinstance(held, Reservation)
    snapshot = await ledger.snapshot([make_account("acct-1"), make_account("acct-2")], NOW)
    first = snapshot.accounts["acct-1"]
    assert (first.usage.day.requests, first.usage.day.tokens, first.usage.month.requests) == (5, 50, 6)
    assert (first.model("model-a").usage.day.requests, first.model("model-b").usage.day.requests) == (3, 2)
    assert snapshot.accounts["acct-2"].usage.day.requests == 2
    assert (snapshot.global_usage.day.requests, round(snapshot.global_usage.day.cost_usd, 9)) == (7, 0.7)
    assert isinstance(await reserve(store, ledger, "acct-1", cost=0.1, **quota), Reservation)  # the 7th this month
    refused = await reserve(store, ledger, "acct-1", cost=0.0, **quota)
    assert isinstance(refused, Refused) and (refused.limit, refused.detail) == ("requests_per_month", "7 used of 7")
    refused = await reserve(store, ledger, "acct-2", cost=0.3, **quota)  # 0.8 held of the day's 1.0
    assert isinstance(refused, Refused) and (refused.limit, refused.scope) == ("budget_daily_usd", "global")
    assert isinstance(await reserve(store, ledger, "acct-2", cost=0.2, **quota), Reservation)


async def test_an_empty_model_or_account_id_is_a_programming_error(store: Store) -> None:
    with pytest.raises(ValueError):
        await store.write(
            Ledger(store).reserve_job(make_account(), "", estimated_tokens=1, worst_case_cost_usd=0, now=NOW)
        )


async def test_the_rolling_minute_is_read_for_accounts_with_a_configured_or_learned_per_minute_limit(
    store: Store,
) -> None:
    ledger = Ledger(store)
    unlimited, limited = make_account("free"), make_account("capped", requests_per_minute=5)
    assert isinstance(await reserve(store, ledger, "free"), Reservation)
    assert isinstance(await reserve(store, ledger, "capped", requests_per_minute=5), Reservation)

    def minute(snapshot: StateSnapshot, account: str) -> int:
        return snapshot.accounts[account].usage.minute.requests

    snapshot = await ledger.snapshot([unlimited, limited], NOW)
    assert (minute(snapshot, "free"), minute(snapshot, "capped")) == (0, 1)
    await store.write(learn_job("free", "model-a", RateLimits(requests_limit=50), NOW))
    snapshot = await ledger.snapshot([unlimited, limited], NOW)
    assert (minute(snapshot, "free"), minute(snapshot, "capped")) == (1, 1)


async def test_a_free_call_is_not_refused_by_a_spent_budget(store: Store) -> None:
    ledger = Ledger(store, budget=BudgetSpec(daily_usd=0.01))
    account = make_account()
    held = await store.write(
        ledger.reserve_job(account, "paid", estimated_tokens=10, worst_case_cost_usd=0.01, now=NOW)
    )
    assert isinstance(held, Reservation)
    refused = await store.write(
        ledger.reserve_job(account, "paid", estimated_tokens=10, worst_case_cost_usd=0.001, now=NOW)
    )
    assert isinstance(refused, Refused) and refused.limit == "budget_daily_usd"
    free = await store.write(ledger.reserve_job(account, "free", estimated_tokens=10, worst_case_cost_usd=0.0, now=NOW))
    assert isinstance(free, Reservation)


@pytest.mark.parametrize(
    ("usage", "cost"),
    [(Usage(input_tokens=-1_000_000), 0.0), (Usage(input_tokens=10), -1.0), (Usage(input_tokens=10), float("inf"))],
    ids=["negative-tokens", "negative-cost", "infinite-cost"],
)
async def test_a_settlement_never_lowers_or_blows_up_recorded_spend(store: Store, usage: Usage, cost: float) -> None:
    ledger = Ledger(store)
    held = await reserve(store, ledger, cost=0.5)
    assert isinstance(held, Reservation)
    with pytest.raises(ValueError, match="never negative"):
        await store.run(settle_job(held, usage=usage, cost_usd=cost, now=NOW))
    rows = await store.fetchall("SELECT state FROM reservations WHERE id = ?", (held.id,))
    assert [row[0] for row in rows] == ["pending"]


async def test_the_snapshot_names_each_account_and_model_with_a_call_in_flight_until_it_ends(store: Store) -> None:
    ledger = Ledger(store)
    accounts = [make_account("acct-1"), make_account("acct-2")]
    first = await reserve(store, ledger, "acct-1")
    second = await reserve(store, ledger, "acct-2")
    assert isinstance(first, Reservation) and isinstance(second, Reservation)
    assert (await ledger.snapshot(accounts, NOW)).in_flight == {("acct-1", "model-a"), ("acct-2", "model-a")}
    await store.run(settle_job(first, usage=Usage(input_tokens=5), cost_usd=0.0, now=NOW))
    await store.run(release_job(second, now=NOW))
    assert (await ledger.snapshot(accounts, NOW)).in_flight == frozenset()


async def test_a_reservation_older_than_a_call_can_run_holds_its_room_but_is_no_call_in_flight(store: Store) -> None:
    ledger = Ledger(store)
    accounts = [make_account("acct-1"), make_account("acct-2")]
    await reserve(store, ledger, "acct-1", now=NOW - timedelta(minutes=5))  # its process died mid-call
    await reserve(store, ledger, "acct-2", now=NOW - timedelta(seconds=30))
    snapshot = await store.read(ledger.snapshot_job(accounts, NOW, in_flight_for=timedelta(minutes=1)))
    assert snapshot.in_flight == {("acct-2", "model-a")}
    assert snapshot.accounts["acct-1"].usage.day.requests == 1  # its budget stays held until it expires
