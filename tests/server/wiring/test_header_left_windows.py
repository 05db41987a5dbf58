"""The quota windows routing sees: a per-minute window has no more left than the provider's headers last said."""

from __future__ import annotations

from datetime import timedelta

import pytest

from providers.types import RateLimits
from server.wiring.quota_rows import quota_windows
from storage.accounts import learn_job
from storage.db import Store
from storage.ledger import Ledger
from tests.storage.conftest import NOW, make_account, store

pytestmark = pytest.mark.anyio

SECOND = timedelta(seconds=1)
__all__ = ["store"]  # the store fixture


async def test_the_minute_window_routing_sees_has_no_more_left_than_the_headers_said(store: Store) -> None:
    ledger = Ledger(store)
    said = RateLimits(requests_limit=20, requests_remaining=0, requests_reset_at=NOW + 40 * SECOND)
    await store.write(learn_job("acct-1", "model-a", said, NOW))
    snapshot = await ledger.snapshot([make_account()], NOW + SECOND)
    state = snapshot.accounts["acct-1"]
    account = make_account()
    mine = state.model("model-a")
    windows = quota_windows(account.quota, state.usage, mine.health, NOW + SECOND, mine.usage.minute)
    minute = next(w for w in windows if w.period == "minute" and w.kind == "requests")
    assert (minute.limit, minute.remaining, minute.resets_at) == (20, 0, NOW + 40 * SECOND)
