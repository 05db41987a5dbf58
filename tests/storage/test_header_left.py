"""What response headers say is left of a per-minute window is kept until its reset, so every process sees it
(the router counts below it and sends nothing once it is 0); `reset` forgets it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from providers.types import RateLimits
from storage.accounts import AccountStates, learn_job
from storage.db import Store
from storage.ledger import Ledger
from storage.snapshot import Health
from tests.storage.conftest import NOW, make_account

pytestmark = pytest.mark.anyio

SECOND = timedelta(seconds=1)


async def health(ledger: Ledger, now: datetime) -> Health:
    return (await ledger.snapshot([make_account()], now)).accounts["acct-1"].model("model-a").health


async def test_a_remaining_count_above_zero_is_stored_until_its_reset(store: Store) -> None:
    ledger = Ledger(store)
    said = RateLimits(requests_limit=20, requests_remaining=3, requests_reset_at=NOW + 40 * SECOND)
    await store.write(learn_job("acct-1", "model-a", said, NOW))
    found = await health(ledger, NOW + SECOND)
    assert (found.requests_left, found.requests_left_until) == (3, NOW + 40 * SECOND)
    assert found.tokens_left is None
    assert (await health(ledger, NOW + 41 * SECOND)).requests_left is None


async def test_a_remaining_count_without_a_reset_lasts_a_minute_at_most(store: Store) -> None:
    ledger = Ledger(store)
    await store.write(learn_job("acct-1", "model-a", RateLimits(tokens_limit=9_000, tokens_remaining=100), NOW))
    found = await health(ledger, NOW)
    assert (found.tokens_left, found.tokens_left_until) == (100, NOW + 60 * SECOND)


async def test_reset_forgets_what_the_headers_said_is_left(store: Store) -> None:
    ledger = Ledger(store)
    said = RateLimits(requests_limit=20, requests_remaining=3, requests_reset_at=NOW + 40 * SECOND)
    await store.write(learn_job("acct-1", "model-a", said, NOW))
    await AccountStates(store).reset()
    assert (await health(ledger, NOW)).requests_left is None
