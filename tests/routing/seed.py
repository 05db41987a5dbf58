"""The seed's providers and preferences as plain data, for table-driven decide() tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from providers.models import ModelProfile
from routing.decide import decide
from routing.preferences import Preferences
from routing.types import CandidateState, ConversationState, Decision, ManualSwitch, QuotaWindow, Task

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
EARLIER = NOW - timedelta(hours=1)

MODELS: dict[str, ModelProfile] = {
    "zai": ModelProfile(
        provider="zai",
        id="glm-4.7",
        context_window=128_000,
        max_output_tokens=8192,
        input_cost_per_1m=0.6,
        output_cost_per_1m=2.2,
        quality={"coding": 82, "reasoning": 78, "creative": 75, "simple": 80},
        speed=55,
        preference_score=50,
    ),
    "kimi": ModelProfile(
        provider="moonshot",
        id="kimi-k2.6",
        context_window=256_000,
        max_output_tokens=8192,
        quality={"coding": 80, "reasoning": 80, "creative": 78, "simple": 78},
        speed=45,
        free_tier=True,
        preference_score=60,
    ),
    "google": ModelProfile(
        provider="google",
        id="gemini-3.5-flash",
        context_window=1_000_000,
        max_output_tokens=8192,
        quality={"coding": 72, "reasoning": 70, "creative": 70, "simple": 80},
        speed=85,
        capabilities=frozenset({"tools", "json", "vision"}),
        free_tier=True,
        preference_score=70,
    ),
    "openai": ModelProfile(
        provider="openai",
        id="gpt-4o",
        context_window=128_000,
        max_output_tokens=16384,
        input_cost_per_1m=2.5,
        output_cost_per_1m=10.0,
        quality={"coding": 90, "reasoning": 88, "creative": 88, "simple": 85},
        speed=60,
        capabilities=frozenset({"tools", "json", "vision"}),
        preference_score=80,
    ),
    "anthropic": ModelProfile(
        provider="anthropic",
        id="claude-sonnet-4-6",
        context_window=200_000,
        max_output_tokens=64_000,
        input_cost_per_1m=3.0,
        output_cost_per_1m=15.0,
        quality={"coding": 93, "reasoning": 92, "creative": 90, "simple": 85},
        speed=50,
        capabilities=frozenset({"tools", "json", "vision", "reasoning"}),
        preference_score=75,
    ),
}
KINDS = {"zai": "openai", "kimi": "openai", "google": "gemini", "openai": "openai", "anthropic": "anthropic"}

SEED_PREFERENCES = Preferences(
    default="zai",
    task_preferences={
        "coding": ("openai", "anthropic", "zai", "kimi"),
        "reasoning": ("anthropic", "kimi", "openai", "google"),
        "creative": ("openai", "kimi", "zai"),
        "simple": ("google", "zai", "kimi"),
    },
    quality_preferences={
        "max_speed": ("google", "zai", "kimi"),
        "max_quality": ("openai", "anthropic"),
        "max_context": ("google", "kimi", "anthropic"),
        "cost_first": ("kimi", "google", "zai", "anthropic", "openai"),
    },
    budget_mode="quality_first",
)


def model(provider: str, **changes: Any) -> ModelProfile:
    return MODELS[provider].model_copy(update=changes) if changes else MODELS[provider]


def cand(
    provider: str, account: str | None = None, *, profile: ModelProfile | None = None, **kw: Any
) -> CandidateState:
    """A candidate of a seed provider (its one model unless `profile` is given)."""
    fields: dict[str, Any] = {"kind": KINDS.get(provider, "openai")}
    fields.update(kw)
    return CandidateState(provider=provider, account=account or provider, model=profile or model(provider), **fields)


def pool(
    provider: str,
    size: int,
    cursor: int = 0,
    strategy: str = "round_robin",
    per: dict[str, dict[str, Any]] | None = None,
) -> list[CandidateState]:
    """A pool `provider-1..size`; `per` maps an account id to extra fields for that account."""
    per = per or {}
    return [
        cand(
            provider,
            f"{provider}-{i + 1}",
            pool=strategy,
            pool_index=i,
            pool_size=size,
            pool_cursor=cursor,
            **per.get(f"{provider}-{i + 1}", {}),
        )
        for i in range(size)
    ]


def everyone(google_accounts: int = 3, **per: dict[str, Any]) -> list[CandidateState]:
    """All five seed providers; google as a pool. `per` maps an account id to extra fields."""
    singles = [cand(p, **per.get(p, {})) for p in ("zai", "kimi", "openai", "anthropic")]
    return singles + pool("google", google_accounts, per=per)


def task(**kw: Any) -> Task:
    fields: dict[str, Any] = {"estimated_input_tokens": 1000, "task_type": "coding"}
    fields.update(kw)
    return Task(**fields)


def run(
    candidates: list[CandidateState],
    prefs: Preferences = SEED_PREFERENCES,
    conversation: ConversationState | None = None,
    manual: ManualSwitch | None = None,
    seed: int = 0,
    **task_kw: Any,
) -> Decision:
    return decide(task(**task_kw), candidates, prefs, conversation, manual, now=NOW, seed=seed)


def prefs(**changes: Any) -> Preferences:
    return SEED_PREFERENCES.model_copy(update=changes)


def chosen(decision: Decision) -> str | None:
    """`provider` or `provider@account` of the chosen candidate (account only when it differs from the provider)."""
    if decision.chosen is None:
        return None
    ref = decision.chosen
    return ref.provider if ref.account == ref.provider else f"{ref.provider}@{ref.account}"


def order(decision: Decision) -> list[str]:
    """Providers in ranked order, consecutive duplicates (pool accounts) collapsed."""
    out: list[str] = []
    for r in decision.ranked:
        if not out or out[-1] != r.provider:
            out.append(r.provider)
    return out


def excluded_by(decision: Decision) -> dict[str, str]:
    """account -> filter for every exclusion."""
    return {x.account: x.filter for x in decision.excluded}


def window(kind: str, period: str, limit: int, remaining: int) -> QuotaWindow:
    return QuotaWindow(kind=kind, period=period, limit=limit, remaining=remaining)
