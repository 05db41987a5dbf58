"""`cache clear`: drop every cached answer (the totals saved are kept)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from server.wiring import App
from storage import ResponseCache


class CacheClearResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    cleared: int


async def clear_cache(app: App) -> CacheClearResult:
    """Delete every entry of the response cache; returns how many there were."""
    return CacheClearResult(cleared=await ResponseCache(app.store).clear())
