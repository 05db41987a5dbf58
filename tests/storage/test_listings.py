"""Stored model listings: one row per provider and account, a failed refresh keeps the last good models."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage.db import Store
from storage.listings import ModelListings
from tests.storage.conftest import NOW

pytestmark = pytest.mark.anyio


async def test_a_saved_listing_is_read_back_with_its_time(store: Store) -> None:
    listings = ModelListings(store)
    await listings.save("openai", "openai-1", [{"id": "gpt-5.2"}, {"id": "x", "context_window": 9}], NOW)
    stored = await listings.get("openai", "openai-1")
    assert stored is not None
    assert stored.models == ({"id": "gpt-5.2"}, {"id": "x", "context_window": 9})
    assert stored.fetched_at == stored.checked_at == NOW and stored.error is None
    assert await listings.get("openai", "other") is None


async def test_a_failed_refresh_keeps_the_last_models_and_records_the_error_and_the_attempt(store: Store) -> None:
    listings = ModelListings(store)
    await listings.save("google", "g-1", [{"id": "gemini-3.5-flash"}], NOW)
    await listings.failed("google", "g-1", "auth_failed: HTTP 401", NOW + timedelta(hours=2))
    stored = await listings.get("google", "g-1")
    assert stored is not None
    assert stored.models == ({"id": "gemini-3.5-flash"},) and stored.fetched_at == NOW
    assert stored.checked_at == NOW + timedelta(hours=2) and stored.error == "auth_failed: HTTP 401"
    await listings.save("google", "g-1", [], NOW + timedelta(days=1))
    again = await listings.get("google", "g-1")
    assert again is not None and again.error is None and again.models == ()


async def test_an_account_that_never_listed_has_a_failure_row_without_models(store: Store) -> None:
    listings = ModelListings(store)
    await listings.failed("anthropic", "a-1", "transport: ConnectError", NOW)
    await listings.save("anthropic", "a-2", [{"id": "claude-sonnet-4-6"}], NOW)
    rows = await listings.all()
    assert [(r.account, r.fetched_at, r.models) for r in rows] == [
        ("a-1", None, ()),
        ("a-2", NOW, ({"id": "claude-sonnet-4-6"},)),
    ]
