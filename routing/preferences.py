"""The user's routing preferences (the `preferences` block of providers.json), as one frozen value."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from providers.models import BudgetSpec, TaskType
from providers.types import Frozen

QualityMode = Literal["max_speed", "balanced", "max_quality", "max_context"]
QUALITY_MODES: tuple[QualityMode, ...] = ("max_speed", "balanced", "max_quality", "max_context")
BudgetMode = Literal["free_only", "cost_first", "quality_first"]
BUDGET_MODES: tuple[BudgetMode, ...] = ("free_only", "cost_first", "quality_first")


#: the response cache's defaults (README "Response cache")
DEFAULT_CACHE_TTL_S = 3600
DEFAULT_CACHE_MAX_MB = 64.0


class CachePolicy(Frozen):
    """`preferences.cache`: a TTL in seconds per task type (a listed type is cached whatever its temperature; 0
    turns caching off for it) and the cache's size bound in MB."""

    ttl_s: dict[TaskType, int] = Field(default_factory=dict)
    max_mb: float = Field(default=DEFAULT_CACHE_MAX_MB, gt=0)


class Preferences(Frozen):
    """Every list is an ORDER of provider ids, never an allow-list: a provider missing from a list ranks after
    those on it and can still serve. Only filters exclude."""

    default: str | None = None
    task_preferences: dict[TaskType, tuple[str, ...]] = Field(default_factory=dict)
    #: keyed by quality mode; a `cost_first` list may be keyed here too, used when budget mode is cost_first
    #: (README "3. Ranking")
    quality_preferences: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    budget_mode: BudgetMode = "quality_first"
    auto_switch: bool = True
    switch_on_limit: bool = True
    preserve_context: bool = True
    budget: BudgetSpec = BudgetSpec()
    #: a conversation whose history is below this many tokens may move freely
    switch_threshold_tokens: int = Field(default=5000, ge=0)
    #: uncatalogued models a provider's listing reports become candidates (after the catalogued ones)
    auto_discover: bool = False
    #: race the next candidate when the first token is later than the chosen one's p95 TTFT (routing.hedge)
    hedge: bool = False
    cache: CachePolicy = CachePolicy()
    #: when no provider can serve, ask the MCP client's own model (sampling), if the client declared it
    sampling_fallback: bool = True
