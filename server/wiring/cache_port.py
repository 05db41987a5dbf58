"""The response cache port (routing.ports.CachePort) on the shared store (storage.ResponseCache)."""

from __future__ import annotations

from datetime import datetime

from routing.ports import CacheWrite
from server.wiring.identity import current_member
from storage import CacheEntry, ResponseCache, Store


def member_key(key: str) -> str:
    """The key in the running request's member's own namespace (team mode): members never share an answer, as they
    never see each other's prompts. The local user's keys are unchanged."""
    member = current_member()
    return key if member is None else f"member:{member.name}:{key}"


class StoreCache:
    """Answers kept in router.db, so every process sharing it reads the same entries."""

    def __init__(self, store: Store) -> None:
        self._cache = ResponseCache(store)

    async def lookup(self, key: str, now: datetime) -> str | None:
        return await self._cache.lookup(member_key(key), now)

    async def save(self, write: CacheWrite, now: datetime, max_bytes: int) -> None:
        entry = CacheEntry(
            member_key(write.key), write.scope, write.answer, write.tokens, write.cost_usd, write.expires_at
        )
        await self._cache.save(entry, now, max_bytes)
