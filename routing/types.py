"""The routing vocabulary: what `decide()` reads (Task, CandidateState, ConversationState, ManualSwitch) and what it
returns (Decision and its parts).

Inputs are frozen pydantic models, validated once where they are built (CandidateState, read most, is a
`read_only` dataclass of such values). Outputs are `read_only` dataclasses: `decide()` builds dozens of them per call
and must stay under ~100 µs, which pydantic construction would not allow. `read_only` is frozen to the type checker
(mypy strict refuses any assignment) and a plain slotted dataclass at run time, because a frozen dataclass's
__init__ costs ~4-8x more (Tiers and ScoreBreakdown are shared by the accounts of one pool). Pydantic still
serialises them (`decision_to_json`, `decision_from_json`), so the decision log stores them as JSON.
"""

from __future__ import annotations

import math
from datetime import datetime
from functools import cache
from typing import Any, Literal

from pydantic import Field, TypeAdapter

from providers.models import Capability, LoadBalancing, ModelProfile, TaskType
from providers.types import Frozen, Message, WireKind
from providers.values import read_only, read_only_hashable
from providers.vendors import ALIASES, vendor_for
from routing.preferences import BudgetMode, QualityMode

#: Why the chosen candidate won (README "4. Reason" says when each is given).
Reason = Literal[
    "preference", "limit", "cost", "context", "quality", "latency", "sticky", "manual", "failover", "cache"
]

#: The filters, in the order decide() applies them; a candidate is reported under the first one it fails.
Filter = Literal[
    "disabled",
    "no_key",
    "retired",
    "capability",
    "budget_mode",
    "context",
    "max_cost",
    "latency",
    "quota",
    "cooldown",
    "unhealthy",
]
#: Filters that describe the provider's state right now (they pass with time); the others describe the request/config.
RUNTIME_FILTERS: frozenset[Filter] = frozenset({"quota", "cooldown", "unhealthy"})
#: Runtime filters that are a quota or rate limit (governed by switchOnLimit); `unhealthy` is a failure (autoSwitch).
LIMIT_FILTERS: frozenset[Filter] = frozenset({"quota", "cooldown"})

#: Filters that describe the model or account whatever the request (they never pass with time or a smaller request).
STATIC_FILTERS: frozenset[Filter] = frozenset({"disabled", "no_key", "retired", "capability"})

#: Why a conversation moved to another provider.
SwitchWhy = Literal["small_history", "manual", "task_type", "recovered", "limit", "failing", "context", "unavailable"]
#: Why no candidate was chosen.
ErrorKind = Literal["no_candidate", "limit", "unavailable"]

QuotaKind = Literal["requests", "tokens"]
QuotaPeriod = Literal["minute", "day", "month"]

#: Output tokens assumed when the caller sets no max_output_tokens (for the context check and the worst-case cost).
DEFAULT_OUTPUT_TOKENS = 4096

#: How many tokens a provider's tokenizer counts for every o200k_base token, keyed by catalogue provider id.
#: Conservative (rounded up): an overestimate costs a slightly early failover, an underestimate a 400.
#: Anthropic's tokenizer counts ~15-35% more than o200k on English and code (more on the newest models);
#: Gemini's SentencePiece ~5-15% more on code; GLM, Kimi and DeepSeek ~10-20% more on code and non-CJK text.
TOKEN_MARGINS: dict[str, float] = {
    "openai": 1.0,
    "azure": 1.0,
    "anthropic": 1.35,
    "google": 1.15,
    "zai": 1.2,
    "moonshot": 1.2,
    "deepseek": 1.2,
    "openrouter": 1.35,
    "groq": 1.25,
    "ollama": 1.25,
    "lmstudio": 1.25,
}
#: For a provider the table does not know: as cautious as the most cautious known tokenizer.
DEFAULT_TOKEN_MARGIN = 1.35


#: For a provider the table does not know, by wire protocol (an OpenAI-compatible server can run any tokenizer).
KIND_TOKEN_MARGINS: dict[str, float] = {"anthropic": TOKEN_MARGINS["anthropic"], "gemini": TOKEN_MARGINS["google"]}


def norm_provider(provider: str) -> str:
    """A provider id as the router compares them: lower case, aliases resolved (moonshot -> kimi)."""
    key = provider.lower()
    return ALIASES.get(key, key)


def token_margin(provider: str, kind: WireKind | None = None) -> float:
    """The multiplier from an o200k_base count to `provider`'s count (provider id, alias or catalogue id)."""
    key = provider.lower()
    margin = TOKEN_MARGINS.get(key)
    if margin is not None:
        return margin
    vendor = vendor_for(key)
    if vendor is not None and vendor.catalog in TOKEN_MARGINS:
        return TOKEN_MARGINS[vendor.catalog]
    return KIND_TOKEN_MARGINS.get(kind, DEFAULT_TOKEN_MARGIN) if kind else DEFAULT_TOKEN_MARGIN


def tokens_for(base_tokens: int, provider: str, kind: WireKind | None = None) -> int:
    """An o200k_base count converted (rounded up) to what `provider` will count."""
    return math.ceil(base_tokens * token_margin(provider, kind))


# --------------------------------------------------------------------------------------------------- inputs


class Classification(Frozen):
    """The task-type classifier's verdict with the features that led to it (the explanation)."""

    task_type: TaskType
    #: 0..1: how clearly the winning type beat the others
    confidence: float = Field(ge=0, le=1)
    #: matched features, strongest first, e.g. ("code fence", "extension .py", "word 'refactor'")
    features: tuple[str, ...] = ()
    scores: dict[TaskType, float] = Field(default_factory=dict)


class Task(Frozen):
    """One request as the router sees it before choosing: what to send and what it needs."""

    messages: tuple[Message, ...] = ()
    system: str | None = None
    #: o200k_base count of everything that will be sent (system, history, new turn); decide() adds per-provider margins
    estimated_input_tokens: int = Field(default=0, ge=0)
    #: the images' input tokens on each wire (providers.image_tokens), added to the estimate per candidate
    image_tokens: dict[WireKind, int] = Field(default_factory=dict)
    #: the workspace files placed in the request (already in `messages`): (path, o200k tokens of its block)
    files: tuple[tuple[str, int], ...] = ()
    #: None: DEFAULT_OUTPUT_TOKENS, clamped to each model's own maximum
    max_output_tokens: int | None = Field(default=None, gt=0)
    task_type: TaskType = "simple"
    task_type_inferred: bool = False
    #: 1.0 when the caller gave the type; the classifier's confidence otherwise
    task_type_confidence: float = Field(default=1.0, ge=0, le=1)
    classification: Classification | None = None
    quality: QualityMode | None = None
    #: overrides Preferences.budget_mode for this call
    budget_mode: BudgetMode | None = None
    max_cost_usd: float | None = Field(default=None, ge=0)
    needs: frozenset[Capability] = frozenset()
    #: exclude candidates whose predicted p95 completion time is longer (filter `latency`)
    max_latency_s: float | None = Field(default=None, gt=0)
    #: output tokens this task type's calls produced lately (None: no history); predicts completion times
    expected_output_tokens: int | None = Field(default=None, gt=0)
    conversation_id: str | None = None
    #: the call's own `provider` / `model` arguments (a pin for this call only)
    provider: str | None = None
    model: str | None = None


class QuotaWindow(Frozen):
    """What is left of one quota window of one account, from the ledger's snapshot."""

    kind: QuotaKind
    period: QuotaPeriod
    limit: int = Field(ge=0)
    remaining: int
    resets_at: datetime | None = None
    #: when response headers taught this limit (None: it is the configured one)
    learned_at: datetime | None = None


class SpeedEstimate(Frozen):
    """What the shared ledger measured of one (provider, model, account)'s speed (storage.latency)."""

    #: observations so far, failures included
    samples: int = Field(default=0, ge=0)
    #: time to the first content delta: the decaying estimate, and the recent window's p50 and p95
    ttft_ms: float | None = None
    ttft_p50_ms: float | None = None
    ttft_p95_ms: float | None = None
    #: output tokens per second after the first token (decaying estimate)
    tokens_per_s: float | None = None
    #: the latest sample's (a probe's verdict on a de-ranked account)
    last_ttft_ms: float | None = None
    last_tokens_per_s: float | None = None
    #: failures among the recent samples
    failure_ratio: float = Field(default=0.0, ge=0, le=1)
    #: observations of its pool's accounts since this one's last: a de-ranked account is probed when large enough
    unobserved_for: int = Field(default=0, ge=0)
    #: the whole store went on without it for long (storage.latency): under max_speed its group is probed
    stale_in_store: bool = False


@read_only
class CandidateState:
    """One (provider, model, account) with everything decide() needs to know about it right now.

    A `read_only` dataclass built from values already validated (the configuration's profiles, the store's rows):
    decide() reads some twenty of its fields per candidate on every call, and a pydantic model's attribute read
    costs ~4x a slot's (its `__getattr__` hook keeps the interpreter off the fast path). Copy one with
    `dataclasses.replace`.
    """

    provider: str
    account: str
    model: ModelProfile
    kind: WireKind = "openai"
    pool: LoadBalancing = "round_robin"
    #: this account's position in its provider's configured pool, and the pool's size
    pool_index: int = 0
    pool_size: int = 1
    #: round_robin: the pool_index the shared cursor points to next (same value on every account of the pool)
    pool_cursor: int = 0
    has_key: bool = True
    enabled: bool = True
    disabled_reason: str | None = None
    #: a 404 taught us the model is gone (the catalogue's retired_on date is checked as well)
    model_retired: bool = False
    #: the configured model this candidate stands in for because it retired (routing.retirement)
    substituted_for: str | None = None
    #: the substitution ("gemini-2.5-flash retired 2026-12-01 → gemini-3.5-flash-lite"), or why a retired model
    #: is skipped
    retirement_note: str | None = None
    #: resting until then: rate limited (429 with Retry-After / reset), or after a server error or transport failure
    cooldown_until: datetime | None = None
    #: why, as recorded: "<error class>: <message>" (e.g. "server_error: ...")
    cooldown_reason: str | None = None
    #: a daily/monthly quota or spend cap ran out; never re-probed before then
    exhausted_until: datetime | None = None
    #: the circuit breaker opened after repeated failures (5xx, overload, transport)
    breaker_open_until: datetime | None = None
    #: failures in a row so far (a success clears them; the router skips that write when there is none)
    consecutive_failures: int = 0
    windows: tuple[QuotaWindow, ...] = ()
    #: the smallest of the account's, provider's and global spend budgets left (None: no budget configured)
    budget_left_usd: float | None = None
    #: the worst-case cost of this task on this candidate if the caller priced it (else computed from the profile)
    estimated_cost_usd: float | None = None
    #: the account calls the model's free tier (None: free when the profile is free or has a free tier)
    free_tier: bool | None = None
    latency_p50_ms: float | None = None
    #: the provider answered a request on this conversation's prefix from this account's prompt cache recently
    #: (conversations.warm_account): kept on it when the pool's order is otherwise a tie
    warm: bool = False
    #: measured speed (None: never observed)
    speed: SpeedEstimate | None = None
    #: a call of this account and model is running now, so its speed is being measured: no probe is sent after
    #: it, and under max_speed a never-measured one is not every concurrent request's first try
    in_flight: bool = False


class ManualSwitch(Frozen):
    """A `switch_provider` pin: global, or scoped to one conversation."""

    provider: str
    model: str | None = None
    conversation_id: str | None = None


class ConversationState(Frozen):
    """Where a conversation is and where it belongs."""

    id: str
    current_provider: str | None = None
    current_model: str | None = None
    #: where it belongs: set by policy or by the user; a failover changes `current_*` only, so it can come back
    preferred_provider: str | None = None
    preferred_model: str | None = None
    history_tokens: int = Field(default=0, ge=0)
    last_task_type: TaskType | None = None
    #: a switch_provider scoped to this conversation
    pin: ManualSwitch | None = None


# --------------------------------------------------------------------------------------------------- outputs


@read_only
class Exclusion:
    """A candidate a filter removed, with the filter and a human detail."""

    provider: str
    model: str
    account: str
    filter: Filter
    detail: str

    @property
    def label(self) -> str:
        return f"{self.provider}/{self.model}@{self.account}"


@read_only
class Tiers:
    """The lexicographic part of the ranking (smaller sorts first), in precedence order (README: routing)."""

    #: 0: the pinned / sticky provider and model; 1: that provider, another model; 2: anything else
    target: int
    #: position in the explicit quality's list (None: no quality given or no list; unlisted = after the list)
    quality_list: int | None
    #: budget mode cost_first only: position in qualityPreferences.cost_first (ranks like a quality list; after the
    #: explicit quality's list when there is one)
    cost_list: int | None
    #: max_context only: the context window (larger sorts first)
    context_window: int | None
    task_list: int | None
    #: 0 when the provider is Preferences.default
    default: int


@read_only
class ScoreBreakdown:
    """The smooth part of the ranking: each part 0..1, its weight, and the weighted total (0..1)."""

    quality: float
    cost: float
    headroom: float
    latency: float
    speed: float
    preference: float
    weights: dict[str, float]
    total: float

    def contributions(self) -> dict[str, float]:
        """Each part times its weight (they sum to `total`)."""
        return {name: getattr(self, name) * weight for name, weight in self.weights.items()}


@read_only
class RankedCandidate:
    """A candidate that passed every filter, in the order the router should try it."""

    provider: str
    model: str
    account: str
    rank: int
    tiers: Tiers
    score: ScoreBreakdown
    #: position inside its pool (provider + model) as the pool strategy ordered it
    pool_position: int
    #: this account's own quota headroom (the score uses the pool's mean)
    account_headroom: float
    #: the input estimate with this provider's tokenizer margin
    input_tokens: int
    output_tokens: int
    estimated_cost_usd: float
    kind: WireKind
    #: the configured model retired and this one routes in its place: "<old> retired <date> → <new>"
    substitution: str | None = None
    #: why this account leads its pool instead of the pool strategy's choice (routing/spend_order.py): its quota
    #: would go unused ("google-2: 14 of 20 requests left, reset in 1 h, would go unused; spent before google-1"),
    #: the other is paced, or it holds the conversation's warm prompt cache; the router then keeps this order
    pool_note: str | None = None
    #: predicted completion time (TTFT + expected output / rate); None without history
    predicted_ms: float | None = None
    ttft_p95_ms: float | None = None
    #: slower than its pool by far, or failing often: tried after the others until a probe shows it recovered
    deranked: bool = False
    #: this request probes a de-ranked account (or learns a new one) and tries it first
    probe: bool = False

    @property
    def label(self) -> str:
        return f"{self.provider}/{self.model}@{self.account}"


@read_only_hashable
class SwitchInfo:
    """The conversation moves from one provider to another."""

    from_provider: str
    from_model: str | None
    to_provider: str
    to_model: str
    why: SwitchWhy
    history_tokens: int
    #: Preferences.preserve_context: convert and carry the history (else start afresh)
    carry_history: bool
    #: a failover away from the preferred provider: keep `preferred_*` so the conversation comes back
    temporary: bool


@read_only_hashable
class DecisionError:
    """Why nothing was chosen, naming the fix."""

    kind: ErrorKind
    provider: str | None
    filters: tuple[Filter, ...]
    message: str


@read_only_hashable
class Decision:
    """decide()'s answer. The router tries `ranked` in order, subject to the two failover flags."""

    chosen: RankedCandidate | None
    ranked: tuple[RankedCandidate, ...]
    excluded: tuple[Exclusion, ...]
    reason: Reason | None
    confidence: float
    switch: SwitchInfo | None
    explanation: tuple[str, ...]
    #: autoSwitch: after an error, the router may move on to candidates of another provider
    failover_on_error: bool
    #: autoSwitch and switchOnLimit: after a rate limit / quota error, the router may move to another provider
    failover_on_limit: bool
    error: DecisionError | None
    task_type: TaskType
    task_type_inferred: bool
    quality: QualityMode | None
    budget_mode: BudgetMode
    estimated_input_tokens: int

    def may_try(self, candidate: RankedCandidate, after_limit: bool) -> bool:
        """Whether the router may try `candidate` after the previous attempt failed (a limit or another error).

        Accounts and models of the chosen provider may always be tried; another provider only if the flag allows.
        """
        if self.chosen is None:
            return False
        if candidate.provider == self.chosen.provider:
            return True
        return self.failover_on_limit if after_limit else self.failover_on_error


@cache
def _decision_adapter() -> TypeAdapter[Decision]:
    return TypeAdapter(Decision)


def decision_to_json(decision: Decision) -> str:
    """The decision as JSON text (for the decision log and dry_run output)."""
    return _decision_adapter().dump_json(decision).decode()


def decision_to_dict(decision: Decision) -> dict[str, Any]:
    """The decision as plain JSON-compatible data."""
    data: dict[str, Any] = _decision_adapter().dump_python(decision, mode="json")
    return data


def decision_from_json(text: str | bytes) -> Decision:
    """Read back a decision written by decision_to_json."""
    return _decision_adapter().validate_json(text)
