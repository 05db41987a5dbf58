"""What the router is asked (`RouteRequest`) and what it routes by (`RouterSetup`)."""

from __future__ import annotations

from dataclasses import dataclass

from providers.models import ProviderConfig, TaskType
from providers.types import Message, ToolSpec
from routing.preferences import BudgetMode, Preferences, QualityMode


@dataclass(frozen=True)
class RouteRequest:
    """One call of route_and_complete, validated by the caller."""

    messages: tuple[Message, ...]
    system: str | None = None
    task_type: TaskType | None = None
    quality: QualityMode | None = None
    budget_mode: BudgetMode | None = None
    provider: str | None = None
    model: str | None = None
    conversation_id: str | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    max_cost_usd: float | None = None
    tools: tuple[ToolSpec, ...] = ()
    json_output: bool = False
    dry_run: bool = False
    #: the response cache: False bypasses it, True opts in, None follows the policy (routing.cache.cache_ttl)
    cache: bool | None = None
    #: exclude candidates whose predicted p95 completion time is longer (filter `latency`)
    max_latency_s: float | None = None
    #: race the next candidate when the first token is late (None: preferences.hedge)
    hedge: bool | None = None


@dataclass(frozen=True)
class RouterSetup:
    """The configuration the router routes by; replaced whole when providers.json changes."""

    providers: dict[str, ProviderConfig]
    preferences: Preferences
    request_timeout_s: float = 60.0
    deadline_s: float = 180.0
    timezone: str = "UTC"
    log_prompts: bool = False
