"""The small seams the router talks through. Storage, credentials and adapters satisfy them in the composition
root (server/), so routing never imports sqlite3, keyring, httpx2 or mcp.

The storage ports are cut along a request's path, one call per trip to the store: `state.view` before deciding,
`ledger.reserve` (or `reserve_turn`) per attempt, `bookkeeping.apply` after a failed attempt and
`bookkeeping.finish` at the end; what an attempt leaves to write travels as `Change` values until then."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pydantic import SecretStr

from providers.adapter import ChatAdapter
from providers.attempts import AttemptRecord
from providers.models import Account, ModelProfile, ProviderConfig, TaskType
from providers.types import Message, RateLimits, Usage
from providers.values import read_only_hashable
from routing.types import CandidateState, ConversationState, ManualSwitch


@read_only_hashable
class Hold:
    """A granted reservation; `token` is the ledger's own handle, opaque to routing."""

    token: Any


@read_only_hashable
class Refusal:
    """The ledger refused: which limit, over what scope, and when it frees up (None: waiting will not help)."""

    limit: str
    scope: str
    resets_at: datetime | None
    detail: str


@read_only_hashable
class Seed:
    """One (provider, model, account) as configured, before its runtime state is read."""

    provider: ProviderConfig
    account: Account
    model: ModelProfile
    pool_index: int
    has_key: bool
    #: the configured model this seed stands in for, when that one has retired (routing.retirement)
    substituted_for: str | None = None
    #: what the retirement of the configured model did: "gemini-2.5-flash retired 2026-12-01 → gemini-3.5-flash-lite"
    retirement_note: str | None = None


@read_only_hashable
class ConversationRecord:
    state: ConversationState
    messages: tuple[Message, ...]
    exists: bool


@read_only_hashable
class StateView:
    """What one read of the shared state gives the router: every candidate with its runtime state, the global
    manual switch (`switch_provider` without a conversation) in force, and the request's conversation."""

    candidates: list[CandidateState]
    conversation: ConversationRecord
    manual: ManualSwitch | None = None
    #: task type -> output tokens its calls produced lately (storage.latency)
    expected_output: dict[str, float] | None = None


class StatePort(Protocol):
    async def view(self, seeds: Sequence[Seed], conversation_id: str | None, now: datetime) -> StateView:
        """Every seed with its runtime state (quota windows, cooldowns, breaker, budget, latency, pool cursor), the
        global pin and the conversation (a new, unsaved one with a fresh id when `conversation_id` is None or
        unknown), read at once."""
        ...


@read_only_hashable
class Claim:
    """Room to hold for one call of one candidate: its estimated tokens and worst-case cost."""

    account: Account
    model: str
    estimated_tokens: int
    worst_case_cost_usd: float


class LedgerPort(Protocol):
    async def reserve(self, claim: Claim, now: datetime) -> Hold | Refusal:
        """Check every limit that applies and hold room for one call, atomically across processes."""
        ...

    async def reserve_turn(self, pool: str, claims: Sequence[Claim], now: datetime) -> tuple[int, Hold | Refusal]:
        """A pool's next turn, in one transaction: advance its shared round-robin cursor to the first of `claims`
        (accounts in pool order) after the account chosen last, and reserve for that one. Returns its index."""
        ...


# ------------------------------------------------------------------ what an attempt leaves to write
# Values, so a request's writes are collected and applied together (one transaction, one hop to the store).


@read_only_hashable
class Settle:
    """The call reached the provider: replace the reservation's estimate with the real usage and cost."""

    hold: Hold
    usage: Usage
    cost_usd: float


@read_only_hashable
class Release:
    """The request never reached the provider: free the reservation, counting nothing."""

    hold: Hold


@read_only_hashable
class CoolDown:
    """Keep the account (or only its `model`) out of routing until `until`."""

    account: str
    model: str | None
    until: datetime
    reason: str


@read_only_hashable
class Exhaust:
    """A quota is used up until its window resets at `until` (never re-probed before)."""

    account: str
    model: str | None
    until: datetime
    reason: str


@read_only_hashable
class Disable:
    """The account's key was refused: disable it until the key changes."""

    account: str
    reason: str


@read_only_hashable
class RetireModel:
    """The provider no longer serves `model` (on any account)."""

    provider: str
    model: str
    reason: str


@read_only_hashable
class Failed:
    """A failure towards the account+model's circuit breaker."""

    account: str
    model: str


@read_only_hashable
class Succeeded:
    """Close the account+model's circuit breaker."""

    account: str
    model: str


@read_only_hashable
class Learn:
    """Adopt what response headers said about the account+model's per-minute limits."""

    account: str
    model: str
    limits: RateLimits


@read_only_hashable
class PoolServed:
    """Another account of the pool served than its turn chose: continue the rotation after it."""

    pool: str
    account: str


@read_only_hashable
class Observe:
    """One call's speed (TTFT at the first content delta, output tokens per second) or failure, for the figures
    routing predicts completion times from (storage.latency)."""

    provider: str
    model: str
    account: str
    ok: bool
    ttft_ms: float | None = None
    tokens_per_s: float | None = None
    task_type: str | None = None
    output_tokens: int = 0
    #: the request ranked by speed (quality max_speed): only such calls count the store-wide neglect
    max_speed: bool = False


Change = (
    Settle | Release | CoolDown | Exhaust | Disable | RetireModel | Failed | Succeeded | Learn | PoolServed | Observe
)


@read_only_hashable
class SavedTurn:
    """A served turn of a conversation, as the router saves it."""

    conversation_id: str
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
    #: the account that served it with prompt-cache reads or writes (its cache now holds the conversation's prefix)
    warm_account: str | None = None


@read_only_hashable
class DecisionLogEntry:
    task_summary: str
    decision: dict[str, Any]
    attempts: tuple[AttemptRecord, ...]
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


class BookkeepingPort(Protocol):
    async def apply(self, changes: Sequence[Change], now: datetime) -> None:
        """Write `changes` (what a failed attempt left: its reservation, cooldowns, breaker, limits) at once."""
        ...

    async def finish(
        self, changes: Sequence[Change], entry: DecisionLogEntry, turn: SavedTurn | None, now: datetime
    ) -> int | None:
        """The end of a request in one transaction: `changes` (what the serving attempt left), the decision with
        its attempts and switch, and the conversation's turn (created if new). Returns the decision id, or None
        when the store could not take it now and keeps it to record later (exactly once): the caller still gets
        the answer the provider served."""
        ...


class KeyPort(Protocol):
    async def get(self, account: Account) -> SecretStr | None:
        """The account's key; raises a `ProviderError` (an auth failure) for a key that cannot be used."""
        ...

    def forget(self, account_id: str) -> None: ...


@read_only_hashable
class CacheWrite:
    """An answer for the response cache: `answer` is routing.cache.CachedAnswer as JSON; `tokens` and `cost_usd`
    are what the call paid (what a later hit saves)."""

    key: str
    scope: str | None
    answer: str
    tokens: int
    cost_usd: float
    expires_at: datetime


class CachePort(Protocol):
    async def lookup(self, key: str, now: datetime) -> str | None:
        """The live answer stored under `key`, counting the hit; None when there is none."""
        ...

    async def save(self, write: CacheWrite, now: datetime, max_bytes: int) -> None:
        """Store an answer, then evict the least recently used ones past `max_bytes`."""
        ...


#: builds the adapter for one account of one provider with its key
AdapterPort = Callable[[ProviderConfig, Account, SecretStr | None], ChatAdapter]


@dataclass
class Ports:
    """Everything the router reaches outside itself."""

    state: StatePort
    ledger: LedgerPort
    bookkeeping: BookkeepingPort
    keys: KeyPort
    connect: AdapterPort
    #: the response cache (None: no caching)
    cache: CachePort | None = None
