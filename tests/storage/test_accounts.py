"""Account health: cooldowns, breakers, pools."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage.accounts import (
    AccountStates,
    BreakerState,
    cooldown_job,
    disable_job,
    failure_job,
    next_in_pool_job,
    success_job,
)
from storage.db import Store
from storage.ledger import Ledger
from storage.snapshot import Health
from tests.storage.conftest import NOW, make_account

pytestmark = pytest.mark.anyio

SECOND = timedelta(seconds=1)


async def health_of(store: Store, model: str | None = None) -> Health:
    account = (await Ledger(store).snapshot([make_account()], NOW)).accounts["acct-1"]
    return account.model(model).health if model else account.health


async def test_a_shorter_cooldown_never_shortens_one_in_force(store: Store) -> None:
    await store.run(cooldown_job("acct-1", None, NOW + 60 * SECOND, "reset header", NOW))
    await store.run(cooldown_job("acct-1", None, NOW + 5 * SECOND, "retry-after", NOW))
    health = await health_of(store)
    assert (health.cooldown_until, health.cooldown_reason) == (NOW + 60 * SECOND, "reset header")
    await store.run(cooldown_job("acct-1", None, NOW + 90 * SECOND, "longer", NOW))
    assert (await health_of(store)).cooldown_until == NOW + 90 * SECOND


async def test_reset_clears_cooldowns_exhaustion_and_breakers_but_not_disabling(store: Store) -> None:
    states = AccountStates(store)
    await states.set_exhausted("acct-1", "m", NOW + timedelta(hours=1), "PerDay", NOW)
    await store.run(cooldown_job("acct-1", None, NOW + 60 * SECOND, "429", NOW))
    await store.run(disable_job("acct-1", "401", NOW))
    assert await states.reset() == 2
    health = await health_of(store)
    assert (health.cooldown_until, health.exhausted_until, health.breaker_open_until) == (None, None, None)
    assert (await health_of(store, "m")).exhausted_until is None
    snapshot = await Ledger(store).snapshot([make_account()], NOW)
    assert snapshot.accounts["acct-1"].disabled_reason == "401"


async def test_the_breaker_opens_after_consecutive_failures_and_a_success_closes_it(store: Store) -> None:
    assert await store.run(failure_job("acct-1", "m", NOW, threshold=3)) == BreakerState(1, None)
    assert await store.run(failure_job("acct-1", "m", NOW, threshold=3)) == BreakerState(2, None)
    opened = await store.run(failure_job("acct-1", "m", NOW, threshold=3, open_for=30 * SECOND))
    assert opened == BreakerState(3, NOW + 30 * SECOND)
    health = await health_of(store, "m")
    assert (health.cooldown_until, health.breaker_open_until) == (None, NOW + 30 * SECOND)
    # Half-open after the interval: one more failure re-opens it at once.
    later = NOW + 31 * SECOND
    assert await store.run(failure_job("acct-1", "m", later, open_for=30 * SECOND)) == BreakerState(
        4, later + 30 * SECOND
    )
    await store.run(success_job("acct-1", "m"))
    health = await health_of(store, "m")
    assert (health.consecutive_failures, health.breaker_open_until) == (0, None)


async def test_the_pool_cursor_rotates_through_the_eligible_accounts(store: Store) -> None:
    pool = ["g1", "g2", "g3"]
    assert [await store.write(next_in_pool_job("google", pool)) for _ in range(4)] == ["g1", "g2", "g3", "g1"]
    # g2 becomes ineligible: the rotation skips it.
    assert [await store.write(next_in_pool_job("google", ["g1", "g3"])) for _ in range(2)] == ["g3", "g1"]
    # The last one chosen leaves the pool: the rotation goes on rather than restarting.
    assert await store.write(next_in_pool_job("google", ["g2", "g3"])) in ("g2", "g3")
    with pytest.raises(ValueError):
        await store.write(next_in_pool_job("google", []))


async def test_pools_rotate_independently(store: Store) -> None:
    assert await store.write(next_in_pool_job("a", ["x", "y"])) == "x"
    assert await store.write(next_in_pool_job("b", ["x", "y"])) == "x"
    assert await store.write(next_in_pool_job("a", ["x", "y"])) == "y"
