"""Limits learned from response headers: only plausible ones are kept, they lapse after their window, `reset`
forgets them, and the snapshot says when each was learned."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from providers.types import RateLimits
from storage.accounts import LEARNED_LIMIT_TTL, MAX_HEADER_COOLDOWN, AccountStates, learn_job
from storage.db import Store
from storage.ledger import Ledger, Refused, Reservation
from storage.snapshot import Health
from storage.windows import to_ms
from tests.storage.conftest import NOW, make_account

pytestmark = pytest.mark.anyio

SECOND = timedelta(seconds=1)


async def reserve(store: Store, ledger: Ledger, now: datetime) -> Reservation | Refused:
    return await store.write(
        ledger.reserve_job(make_account(), "model-a", estimated_tokens=10, worst_case_cost_usd=0, now=now)
    )


async def learn(store: Store, limits: RateLimits, now: datetime) -> None:
    """What the router writes when a response's headers about acct-1/model-a arrive."""
    await store.write(learn_job("acct-1", "model-a", limits, now))


async def health(ledger: Ledger, now: datetime) -> Health:
    return (await ledger.snapshot([make_account()], now)).accounts["acct-1"].model("model-a").health


@pytest.mark.parametrize("limit", [0, -5, 10**12])
async def test_a_learned_limit_of_zero_or_an_absurd_one_is_not_stored(store: Store, limit: int) -> None:
    ledger = Ledger(store)
    said = RateLimits(requests_limit=limit, requests_remaining=0, requests_reset_at=NOW + timedelta(days=400))
    await learn(store, said, NOW)
    for i in range(5):
        assert isinstance(await reserve(store, ledger, NOW + i * SECOND), Reservation)
    assert (await health(ledger, NOW)).learned_requests_limit is None
    rows = await store.fetchall("SELECT learned_requests_limit FROM account_state")
    assert all(row[0] is None for row in rows)


async def test_a_zero_limit_beside_a_plausible_one_keeps_the_plausible_one(store: Store) -> None:
    ledger = Ledger(store)
    await learn(store, RateLimits(requests_limit=0, tokens_limit=50_000), NOW)
    found = await health(ledger, NOW)
    assert (found.learned_requests_limit, found.learned_tokens_limit, found.learned_at) == (None, 50_000, NOW)


async def test_a_learned_limit_is_forgotten_once_its_minute_has_passed(store: Store) -> None:
    ledger = Ledger(store)
    await learn(store, RateLimits(requests_limit=1), NOW)
    assert isinstance(await reserve(store, ledger, NOW), Reservation)
    refused = await reserve(store, ledger, NOW + 30 * SECOND)
    assert isinstance(refused, Refused) and refused.limit == "requests_per_minute"
    later = NOW + LEARNED_LIMIT_TTL + SECOND
    assert (await health(ledger, later)).learned_requests_limit is None
    assert isinstance(await reserve(store, ledger, later), Reservation)
    assert isinstance(await reserve(store, ledger, later + SECOND), Reservation)


async def test_headers_saying_the_limit_again_keep_it_in_force(store: Store) -> None:
    ledger = Ledger(store)
    await learn(store, RateLimits(requests_limit=2), NOW)
    await learn(store, RateLimits(requests_limit=2), NOW + 50 * SECOND)
    found = await health(ledger, NOW + 80 * SECOND)
    assert (found.learned_requests_limit, found.learned_at) == (2, NOW + 50 * SECOND)


async def test_a_lapsed_limit_is_not_revived_by_headers_about_the_other_kind(store: Store) -> None:
    ledger = Ledger(store)
    await learn(store, RateLimits(requests_limit=2), NOW)
    later = NOW + 2 * LEARNED_LIMIT_TTL
    await learn(store, RateLimits(tokens_limit=9_000), later)
    found = await health(ledger, later)
    assert (found.learned_requests_limit, found.learned_tokens_limit) == (None, 9_000)


async def test_reset_forgets_learned_limits(store: Store) -> None:
    ledger, states = Ledger(store), AccountStates(store)
    await learn(store, RateLimits(requests_limit=1, tokens_limit=100), NOW)
    assert isinstance(await reserve(store, ledger, NOW), Reservation)
    assert isinstance(await reserve(store, ledger, NOW + SECOND), Refused)
    await states.reset()
    found = await health(ledger, NOW + SECOND)
    assert (found.learned_requests_limit, found.learned_tokens_limit, found.learned_at) == (None, None, None)
    assert isinstance(await reserve(store, ledger, NOW + SECOND), Reservation)


async def test_a_zero_limit_stored_by_an_older_version_refuses_nothing(store: Store) -> None:
    ledger = Ledger(store)
    await store.execute(
        "INSERT INTO account_state (account, model, learned_requests_limit, learned_at, updated_at) "
        "VALUES ('acct-1', 'model-a', 0, ?, ?)",
        (to_ms(NOW), to_ms(NOW)),
    )
    assert isinstance(await reserve(store, ledger, NOW + SECOND), Reservation)
    assert (await health(ledger, NOW + SECOND)).learned_requests_limit is None


async def test_a_nothing_remaining_header_cools_the_model_down_a_day_at_most(store: Store) -> None:
    ledger = Ledger(store)
    far = NOW + timedelta(days=3650)
    await learn(store, RateLimits(requests_remaining=0, requests_reset_at=far), NOW)
    refused = await reserve(store, ledger, NOW + SECOND)
    assert isinstance(refused, Refused) and refused.resets_at == NOW + MAX_HEADER_COOLDOWN
    assert isinstance(await reserve(store, ledger, NOW + MAX_HEADER_COOLDOWN), Reservation)
