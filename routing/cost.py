"""What a served request cost, from the provider's usage and the model's prices (pure)."""

from __future__ import annotations

import math

from providers.models import ModelProfile
from providers.types import Usage


def usage_cost_usd(usage: Usage, model: ModelProfile, *, free: bool = False, reported: float | None = None) -> float:
    """USD for `usage` on `model`: a provider-reported cost (OpenRouter's `usage.cost`) when given, since the
    provider knows what it billed (even for a model thought free); else 0 on a free tier; else the model's prices
    (a stand-in when they are unknown: `ModelProfile.price_known`).

    Cached input is billed at the cache prices when the model has them, else at the input price.
    """
    # a reported 0 for a model with known prices is no bill (a proxy's placeholder, OpenRouter with the user's own
    # key, whose charge is elsewhere): the prices decide then
    believable = reported is not None and math.isfinite(reported) and reported >= 0
    if believable and reported is not None and (reported > 0 or not model.price_known or free):
        return reported
    if free:
        return 0.0
    cache_read = min(usage.cache_read_tokens, usage.input_tokens)
    cache_write = min(usage.cache_write_tokens, usage.input_tokens - cache_read)
    uncached = usage.input_tokens - cache_read - cache_write
    read_price = model.cache_read_cost_per_1m if model.cache_read_cost_per_1m is not None else model.input_cost_per_1m
    write_price = (
        model.cache_write_cost_per_1m if model.cache_write_cost_per_1m is not None else model.input_cost_per_1m
    )
    micro_usd = (
        uncached * model.input_cost_per_1m
        + cache_read * read_price
        + cache_write * write_price
        + usage.output_tokens * model.output_cost_per_1m
    )
    return micro_usd / 1_000_000


def is_free_tier(model: ModelProfile, account_free_tier: bool | None) -> bool:
    """Whether calls of this account to this model cost nothing: a free model, or the model's free tier.

    `account_free_tier` is the account's own statement when the configuration makes one.
    """
    if model.is_free:
        return True
    if account_free_tier is not None:
        return account_free_tier
    return model.free_tier


def prompt_cache_saving_usd(cache_read_tokens: int, cache_write_tokens: int, model: ModelProfile) -> float:
    """What prompt caching saved against sending the same input uncached: reads at the input price minus the read
    price, less the premium writes cost over the input price (negative when writes outweigh the reads)."""
    read_price = model.cache_read_cost_per_1m if model.cache_read_cost_per_1m is not None else model.input_cost_per_1m
    write_price = (
        model.cache_write_cost_per_1m if model.cache_write_cost_per_1m is not None else model.input_cost_per_1m
    )
    micro_usd = cache_read_tokens * (model.input_cost_per_1m - read_price) - cache_write_tokens * (
        write_price - model.input_cost_per_1m
    )
    return micro_usd / 1_000_000
