"""Who routes the simulated day: our router (one budget mode), or a baseline calling the adapters itself.

Baselines get the same providers, the same adapters and the same simulator; each tries down its own order until
something answers (a static fallback list: kinder to them than no failover at all).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import SecretStr

from bench.fixtures import SIM_KEY
from bench.simulate.workload import SubTask
from bench.simulate.world import OUTPUT_TOKENS
from providers.errors import ProviderError
from providers.models import Account, ModelProfile, ProviderConfig, TaskType
from providers.registry import make_adapter
from providers.types import ChatRequest, Completion, Endpoint, Message
from routing.cost import is_free_tier, usage_cost_usd
from routing.preferences import BudgetMode
from routing.results import RouteError
from routing.router import RouteRequest
from server.wiring.app import App

#: LiteLLM's defaults (litellm/constants.py): a failing deployment rests this long
LITELLM_COOLDOWN = timedelta(seconds=5)


@dataclass(frozen=True)
class Tried:
    provider: str
    account: str
    error_class: str | None  # None: served


@dataclass(frozen=True)
class Served:
    """One sub-task's fate."""

    ok: bool
    provider: str | None = None
    model: str | None = None
    cost_usd: float = 0.0
    tried: tuple[Tried, ...] = ()


@dataclass(frozen=True)
class Deployment:
    provider: ProviderConfig
    account: Account
    model: ModelProfile

    def price(self, input_tokens: int) -> float:
        if is_free_tier(self.model, None):
            return 0.0
        return (input_tokens * self.model.input_cost_per_1m + OUTPUT_TOKENS * self.model.output_cost_per_1m) / 1e6


def deployments(app: App) -> list[Deployment]:
    return [
        Deployment(provider, account, model)
        for provider in app.config.providers.values()
        for account in provider.accounts
        for model in provider.models.values()
    ]


class Ours:
    """Our router in one budget mode; it keeps each conversation itself (the driver sends only the new turn)."""

    def __init__(self, app: App, mode: BudgetMode) -> None:
        self.app, self.mode = app, mode
        self.conversations: dict[str, str] = {}

    @property
    def name(self) -> str:
        return f"ours, {self.mode}"

    async def serve(self, task: SubTask, index: int) -> Served:
        ours_id = self.conversations.get(task.conversation) if task.conversation else None
        request = RouteRequest(
            messages=(Message(role="user", content=task.prompt(index)),),
            task_type=task.task_type,
            conversation_id=ours_id,
            max_output_tokens=OUTPUT_TOKENS,
        )
        try:
            result = await self.app.router.route(request)
        except RouteError as error:
            tried = tuple(Tried(a.provider, a.account, a.error_class or "skipped") for a in error.attempts)
            return Served(False, tried=tried)
        if task.conversation and result.conversation_id:
            self.conversations[task.conversation] = result.conversation_id
        tried = tuple(Tried(a.provider, a.account, a.error_class) for a in result.attempts if a.outcome != "skipped")
        return Served(True, result.provider, result.model, result.cost_usd, tried)


@dataclass
class Baseline:
    """A fixed policy: `order` ranks the deployments for a sub-task; it calls down that order itself."""

    name: str
    app: App
    order: Callable[[Baseline, SubTask, int], list[Deployment]]
    clock: Callable[[], datetime]
    fleet: list[Deployment] = field(default_factory=list[Deployment])
    history: dict[str, list[Message]] = field(default_factory=dict[str, list[Message]])
    cooling: dict[str, datetime] = field(default_factory=dict[str, datetime])
    cursor: int = 0

    def __post_init__(self) -> None:
        self.fleet = deployments(self.app)

    async def serve(self, task: SubTask, index: int) -> Served:
        past = self.history.get(task.conversation, []) if task.conversation else []
        messages = [*past, Message(role="user", content=task.prompt(index))]
        tried: list[Tried] = []
        tokens = sum(len(m.content.split()) for m in messages if isinstance(m.content, str))
        for d in self.order(self, task, tokens):
            try:
                completion = await self._call(d, messages)
            except ProviderError as error:
                tried.append(Tried(d.provider.id, d.account.id, error.error_class))
                self.cooling[d.account.id] = self.clock() + LITELLM_COOLDOWN
                continue
            tried.append(Tried(d.provider.id, d.account.id, None))
            if task.conversation:
                self.history[task.conversation] = [*messages, Message(role="assistant", content=completion.text)]
            free = is_free_tier(d.model, None)
            cost = usage_cost_usd(completion.usage, d.model, free=free, reported=completion.reported_cost_usd)
            return Served(True, d.provider.id, d.model.id, cost, tuple(tried))
        return Served(False, tried=tuple(tried))

    async def _call(self, d: Deployment, messages: list[Message]) -> Completion:
        endpoint = Endpoint(
            provider=d.provider.id, account=d.account.id, base_url=d.account.base_url, api_key=SecretStr(SIM_KEY)
        )
        adapter = make_adapter(d.provider.kind, self.app.http, endpoint, d.provider.options, self.app.clock)
        request = ChatRequest(model=d.model.id, messages=tuple(messages), max_output_tokens=OUTPUT_TOKENS)
        return await adapter.complete(request)


def best_quality(b: Baseline, task: SubTask, tokens: int) -> list[Deployment]:
    """Always the catalogue's best model for the task type (cheaper first on a tie), falling back down the list."""
    return sorted(b.fleet, key=lambda d: (-d.model.quality_for(task.task_type), d.price(tokens), d.account.id))


def round_robin(b: Baseline, task: SubTask, tokens: int) -> list[Deployment]:
    """Every deployment in turn, whatever the task."""
    start = b.cursor % len(b.fleet)
    b.cursor += 1
    return b.fleet[start:] + b.fleet[:start]


def cheapest(b: Baseline, task: SubTask, tokens: int) -> list[Deployment]:
    """LiteLLM's cost-based routing, modelled: cheapest deployment first, skipping ones in cooldown (5 s)."""
    now = b.clock()
    ready = [d for d in b.fleet if b.cooling.get(d.account.id, now) <= now]
    return sorted(ready, key=lambda d: (d.price(tokens), d.account.id))


def capable(model: str | None, provider: str | None, task_type: TaskType, bar: int, fleet: list[Deployment]) -> bool:
    profile = next((d.model for d in fleet if d.model.id == model and d.provider.id == provider), None)
    return profile is not None and profile.quality_for(task_type) >= bar
