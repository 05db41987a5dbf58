"""The small seams the router talks through. Storage, credentials and adapters satisfy them in the composition
root (server/), so routing never imports aiosqlite, keyring, httpx2 or mcp."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pydantic import SecretStr

from providers.adapter import ChatAdapter
from providers.errors import ErrorClass
from providers.models import Account, ModelProfile, ProviderConfig, TaskType
from providers.types import Message, RateLimits, Usage
from routing.results import AttemptOutcome
from routing.types import CandidateState, ConversationState, ManualSwitch


@dataclass(frozen=True, slots=True)
class Hold:
    """A granted reservation; `token` is the ledger's own handle, opaque to routing."""

    token: Any


@dataclass(frozen=True, slots=True)
class Refusal:
    """The ledger refused: which limit, over what scope, and when it frees up (None: waiting will not help)."""

    limit: str
    scope: str
    resets_at: datetime | None
    detail: str


@dataclass(frozen=True, slots=True)
class Seed:
    """One (provider, model, account) as configured, before its runtime state is read."""

    provider: ProviderConfig
    account: Account
    model: ModelProfile
    pool_index: int
    has_key: bool


@dataclass(frozen=True, slots=True)
class StateView:
    """What one read of the shared state gives the router: every candidate with its runtime state, and the global
    manual switch (`switch_provider` without a conversation) in force."""

    candidates: list[CandidateState]
    manual: ManualSwitch | None = None


class StatePort(Protocol):
    async def view(self, seeds: Sequence[Seed], now: datetime) -> StateView:
        """Every seed with its runtime state (quota windows, cooldowns, breaker, budget, latency, pool cursor) and
        the global pin, read at once."""
        ...

    async def next_in_pool(self, pool: str, eligible: Sequence[str]) -> str:
        """Advance the pool's shared round-robin cursor: the first of `eligible` after the account chosen last."""
        ...

    async def pool_served(self, pool: str, account: str) -> None:
        """Another account of the pool served than `next_in_pool` chose: continue the rotation after it."""
        ...


class LedgerPort(Protocol):
    async def reserve(
        self, account: Account, model: str, *, estimated_tokens: int, worst_case_cost_usd: float, now: datetime
    ) -> Hold | Refusal: ...

    async def settle(self, hold: Hold, *, usage: Usage, cost_usd: float, now: datetime) -> None: ...

    async def release(self, hold: Hold, *, now: datetime) -> None: ...


class HealthPort(Protocol):
    async def cool_down(self, account: str, model: str | None, until: datetime, reason: str, now: datetime) -> None: ...

    async def exhaust(self, account: str, model: str | None, until: datetime, reason: str, now: datetime) -> None: ...

    async def disable(self, account: str, reason: str, now: datetime) -> None: ...

    async def retire_model(self, provider: str, model: str, reason: str, now: datetime) -> None: ...

    async def failed(self, account: str, model: str, now: datetime) -> None: ...

    async def succeeded(self, account: str, model: str) -> None: ...

    async def learn(self, account: str, model: str, limits: RateLimits, now: datetime) -> None: ...


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    state: ConversationState
    messages: tuple[Message, ...]
    exists: bool


@dataclass(frozen=True, slots=True)
class SavedTurn:
    """A served turn of a conversation, as the router saves it."""

    messages: tuple[Message, ...]
    provider: str
    model: str
    #: tokens the provider reported for this turn
    tokens: int
    task_type: TaskType
    #: the token estimate (routing.tokens.message_tokens) of the whole stored history after this turn
    history_tokens: int
    #: where the conversation belongs from now on (None: unchanged)
    preferred: tuple[str, str] | None = None
    #: the turn went to another provider without the history (preserveContext off): the history starts afresh
    restart: bool = False


class ConversationPort(Protocol):
    async def load(self, conversation_id: str | None, now: datetime) -> ConversationRecord:
        """The conversation (a new, unsaved one with a fresh id when `conversation_id` is None or unknown)."""
        ...

    async def save_turn(self, record: ConversationRecord, turn: SavedTurn, now: datetime) -> None:
        """Create the conversation if new, append the turn, move it to the provider that served (one write)."""
        ...


@dataclass(frozen=True, slots=True)
class AttemptLog:
    provider: str
    model: str
    account: str
    outcome: AttemptOutcome
    latency_ms: float
    started_at: datetime
    error_class: ErrorClass | None = None
    usage: Usage = Usage()
    cost_usd: float = 0.0
    #: why the ledger refused a `skipped` attempt, or the error's message
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class DecisionLogEntry:
    task_summary: str
    decision: dict[str, Any]
    attempts: tuple[AttemptLog, ...]
    provider: str | None
    model: str | None
    account: str | None
    reason: str | None
    confidence: float | None
    task_type: str
    quality: str | None
    conversation_id: str | None
    dry_run: bool
    prompt: str | None
    #: a conversation switch to audit: (from provider, from model, to provider, to model, why)
    switch: tuple[str, str | None, str, str, str] | None = None


class DecisionLogPort(Protocol):
    async def record(self, entry: DecisionLogEntry, now: datetime) -> int: ...


class KeyPort(Protocol):
    async def get(self, account: Account) -> SecretStr | None: ...

    def forget(self, account_id: str) -> None: ...


#: builds the adapter for one account of one provider with its key
AdapterPort = Callable[[ProviderConfig, Account, SecretStr | None], ChatAdapter]


@dataclass
class Ports:
    """Everything the router reaches outside itself."""

    state: StatePort
    ledger: LedgerPort
    health: HealthPort
    conversations: ConversationPort
    decisions: DecisionLogPort
    keys: KeyPort
    connect: AdapterPort
