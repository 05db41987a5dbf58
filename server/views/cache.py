"""`cache stats`: what the response cache holds and what it has saved (README "Response cache")."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from server.wiring import App
from storage import ResponseCache


class CacheReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    entries: int
    bytes: int
    max_bytes: int
    hits: int
    tokens_saved: int
    dollars_saved: float


async def cache_report(app: App) -> CacheReport:
    """Live entries and their size against the bound, and the hits, tokens and dollars saved so far."""
    stats = await ResponseCache(app.store).stats(app.clock())
    return CacheReport(
        entries=stats.entries,
        bytes=stats.bytes,
        max_bytes=int(app.config.preferences.cache.max_mb * 1024 * 1024),
        hits=stats.hits,
        tokens_saved=stats.tokens_saved,
        dollars_saved=round(stats.dollars_saved, 9),
    )
