"""The response cache's table: entries expire by TTL, the LRU bound evicts, hits count what they saved."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage.db import Store
from storage.response_cache import CacheEntry, ResponseCache
from tests.storage.conftest import NOW

pytestmark = pytest.mark.anyio

BIG = 1 << 30


def entry(key: str, *, answer: str = "x" * 100, ttl_s: int = 3600, tokens: int = 10, cost: float = 0.5) -> CacheEntry:
    return CacheEntry(key, None, answer, tokens, cost, NOW + timedelta(seconds=ttl_s))


async def test_an_entry_is_read_until_its_ttl_and_not_after(store: Store) -> None:
    cache = ResponseCache(store)
    await cache.save(entry("k", answer='{"text":"hi"}', ttl_s=60), NOW, BIG)
    assert await cache.lookup("k", NOW + timedelta(seconds=59)) == '{"text":"hi"}'
    assert await cache.lookup("k", NOW + timedelta(seconds=60)) is None
    assert await cache.lookup("other", NOW) is None


async def test_past_the_size_bound_the_least_recently_used_entries_go_first(store: Store) -> None:
    cache = ResponseCache(store)
    await cache.save(entry("a"), NOW, BIG)
    await cache.save(entry("b"), NOW + timedelta(seconds=1), BIG)
    assert await cache.lookup("a", NOW + timedelta(seconds=2)) is not None  # a is now the most recently used
    await cache.save(entry("c"), NOW + timedelta(seconds=3), 250)
    assert await cache.lookup("b", NOW + timedelta(seconds=4)) is None
    assert await cache.lookup("a", NOW + timedelta(seconds=4)) is not None
    assert await cache.lookup("c", NOW + timedelta(seconds=4)) is not None
    stats = await cache.stats(NOW + timedelta(seconds=4))
    assert (stats.entries, stats.bytes) == (2, 200)


async def test_hits_count_the_tokens_and_dollars_the_original_call_paid_and_clear_keeps_them(store: Store) -> None:
    cache = ResponseCache(store)
    await cache.save(entry("k", tokens=120, cost=0.25), NOW, BIG)
    await cache.lookup("k", NOW)
    await cache.lookup("k", NOW)
    await cache.lookup("missing", NOW)
    stats = await cache.stats(NOW)
    assert (stats.entries, stats.hits, stats.tokens_saved, stats.dollars_saved) == (1, 2, 240, 0.5)
    assert await cache.clear() == 1
    after = await cache.stats(NOW)
    assert (after.entries, after.bytes, after.hits, after.dollars_saved) == (0, 0, 2, 0.5)


async def test_an_expired_entry_is_not_counted_and_goes_at_the_next_write(store: Store) -> None:
    cache = ResponseCache(store)
    await cache.save(entry("old", ttl_s=10), NOW, BIG)
    later = NOW + timedelta(seconds=20)
    assert (await cache.stats(later)).entries == 0
    await cache.save(entry("new"), later, BIG)
    assert await store.fetchall("SELECT key FROM response_cache") == [("new",)]
