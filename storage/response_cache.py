"""The response cache's table: answers by key, read and written in one transaction each, shared by every process.

An entry lives until its `expires_at`, and while the table is over its size bound the least recently used entries
go first. The running totals (hits, tokens and dollars saved) live in a row of their own, so `clear` keeps them.
"""

from __future__ import annotations

from datetime import datetime

from providers.values import read_only_hashable
from storage.connection import Connection
from storage.db import Store
from storage.quota_check import NANO, to_nusd
from storage.windows import to_ms


@read_only_hashable
class CacheStats:
    """What the cache holds now and what it has saved since the database was created."""

    entries: int
    bytes: int
    hits: int
    tokens_saved: int
    dollars_saved: float


@read_only_hashable
class CacheEntry:
    """One answer to store: `answer` is the caller's JSON text; `tokens` and `cost_usd` are what the call paid."""

    key: str
    scope: str | None
    answer: str
    tokens: int
    cost_usd: float
    expires_at: datetime


class ResponseCache:
    """Reads and writes of `response_cache` and `response_cache_totals`."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def lookup(self, key: str, now: datetime) -> str | None:
        """The live answer under `key` (None when absent or expired); a hit marks it used and counts the saving."""
        now_ms = to_ms(now)

        def job(conn: Connection) -> str | None:
            row = conn.execute(
                "SELECT answer, tokens, cost_nusd FROM response_cache WHERE key = ? AND expires_at > ?", (key, now_ms)
            ).fetchone()
            if row is None:
                return None
            answer, tokens, cost_nusd = row
            conn.execute("UPDATE response_cache SET last_used_at = ?, hits = hits + 1 WHERE key = ?", (now_ms, key))
            conn.execute(
                "UPDATE response_cache_totals SET hits = hits + 1, tokens_saved = tokens_saved + ?, "
                "cost_saved_nusd = cost_saved_nusd + ? WHERE id = 1",
                (tokens, cost_nusd),
            )
            return str(answer)

        return await self._store.quick_write(job)

    async def save(self, entry: CacheEntry, now: datetime, max_bytes: int) -> None:
        """Store `entry` (replacing one under its key), drop expired entries, then evict the least recently used
        ones while the table holds more than `max_bytes`."""
        now_ms = to_ms(now)
        size = len(entry.answer.encode())

        def job(conn: Connection) -> None:
            conn.execute("DELETE FROM response_cache WHERE expires_at <= ?", (now_ms,))
            conn.execute(
                "INSERT INTO response_cache (key, scope, created_at, expires_at, last_used_at, size_bytes, "
                "tokens, cost_nusd, hits, answer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?) "
                "ON CONFLICT (key) DO UPDATE SET "
                "scope = excluded.scope, created_at = excluded.created_at, expires_at = excluded.expires_at, "
                "last_used_at = excluded.last_used_at, size_bytes = excluded.size_bytes, tokens = excluded.tokens, "
                "cost_nusd = excluded.cost_nusd, hits = 0, answer = excluded.answer",
                (entry.key, entry.scope, now_ms, to_ms(entry.expires_at), now_ms, size, entry.tokens,
                 to_nusd(entry.cost_usd), entry.answer),
            )  # fmt: skip
            _evict(conn, max_bytes)

        # on the thread: expiry and the size bound scan the whole table, which must not hold up the event loop
        await self._store.write(job)

    async def stats(self, now: datetime) -> CacheStats:
        """Live entries and their bytes, and the totals saved."""
        now_ms = to_ms(now)

        def job(conn: Connection) -> CacheStats:
            entries, size = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(size_bytes), 0) FROM response_cache WHERE expires_at > ?", (now_ms,)
            ).fetchone()
            hits, tokens, cost = conn.execute(
                "SELECT hits, tokens_saved, cost_saved_nusd FROM response_cache_totals WHERE id = 1"
            ).fetchone()
            return CacheStats(int(entries), int(size), int(hits), int(tokens), cost / NANO)

        return await self._store.read(job)

    async def clear(self) -> int:
        """Delete every entry (the totals saved stay); returns how many there were."""
        return await self._store.execute("DELETE FROM response_cache")


def _evict(conn: Connection, max_bytes: int) -> None:
    total = int(conn.execute("SELECT COALESCE(SUM(size_bytes), 0) FROM response_cache").fetchone()[0])
    if total <= max_bytes:
        return
    rows = conn.execute("SELECT key, size_bytes FROM response_cache ORDER BY last_used_at, created_at").fetchall()
    doomed: list[str] = []
    for key, size in rows:
        if total <= max_bytes:
            break
        doomed.append(key)
        total -= int(size)
    conn.executemany("DELETE FROM response_cache WHERE key = ?", [(key,) for key in doomed])
