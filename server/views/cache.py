"""`cache stats`: what the response cache holds and what it has saved (README "Response cache")."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from routing.cost import prompt_cache_saving_usd
from server.wiring import App
from storage import ResponseCache


class PromptCacheReport(BaseModel):
    """The providers' own prompt caches (Anthropic's `cache_control` prefixes, OpenAI's and Gemini's automatic
    ones) over the retention period: calls that read a cached prefix, tokens read and written, dollars saved
    against sending the same input uncached (reads at their price, writes at theirs)."""

    model_config = ConfigDict(frozen=True)

    calls: int = 0
    hits: int = 0
    hit_rate: float = 0.0
    read_tokens: int = 0
    write_tokens: int = 0
    dollars_saved: float = 0.0


class CacheReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    entries: int
    bytes: int
    max_bytes: int
    hits: int
    tokens_saved: int
    dollars_saved: float
    #: the providers' prompt caches (separate from the response cache above)
    prompt_cache: PromptCacheReport = Field(default_factory=PromptCacheReport)


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
        prompt_cache=await prompt_cache_report(app),
    )


async def prompt_cache_report(app: App) -> PromptCacheReport:
    """Prompt-cache reads, writes and savings of the calls still in the log, priced by the configured models."""
    now = app.clock()
    since = now - timedelta(days=app.config.settings.retention_days)
    rows = await app.metrics.prompt_cache(since, now + timedelta(seconds=1))
    saved = 0.0
    for row in rows:
        provider = app.config.providers.get(row.provider)
        model = provider.models.get(row.model) if provider is not None else None
        if model is not None:
            saved += prompt_cache_saving_usd(row.read_tokens, row.write_tokens, model)
    calls = sum(row.calls for row in rows)
    hits = sum(row.hits for row in rows)
    return PromptCacheReport(
        calls=calls,
        hits=hits,
        hit_rate=round(hits / calls, 4) if calls else 0.0,
        read_tokens=sum(row.read_tokens for row in rows),
        write_tokens=sum(row.write_tokens for row in rows),
        dollars_saved=round(saved, 9),
    )
