"""What the router knows about a model and an account: capabilities and limits as data, never name matching."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from providers.types import Frozen, WireKind
from providers.vendors import WireOptions

TaskType = Literal["coding", "reasoning", "creative", "simple"]
TASK_TYPES: tuple[TaskType, ...] = ("coding", "reasoning", "creative", "simple")
Capability = Literal["tools", "vision", "json", "reasoning"]
LoadBalancing = Literal["round_robin", "least_used", "random"]


class ModelProfile(Frozen):
    """One model of one provider. Prices are USD per 1M tokens; `quality` is 0-100 per task type."""

    provider: str
    id: str
    context_window: int = Field(gt=0)
    max_output_tokens: int = Field(gt=0)
    input_cost_per_1m: float = Field(default=0.0, ge=0)
    output_cost_per_1m: float = Field(default=0.0, ge=0)
    cache_read_cost_per_1m: float | None = Field(default=None, ge=0)
    cache_write_cost_per_1m: float | None = Field(default=None, ge=0)
    quality: dict[TaskType, int] = Field(default_factory=dict)
    #: relative output speed 0-100 (used by the `max_speed` quality mode)
    speed: int = Field(default=50, ge=0, le=100)
    capabilities: frozenset[Capability] = frozenset({"tools", "json"})
    free_tier: bool = False
    #: False: neither the catalogue nor the configuration gives this model's prices; they then hold a conservative
    #: stand-in (never 0), so the model is paid: out of free_only, reserved and charged at that price unless the
    #: provider reports the real cost
    price_known: bool = True
    #: the user's own bias for this model (`preferenceScore` in providers.json), 0-100
    preference_score: int | None = Field(default=None, ge=0, le=100)
    deprecated_on: date | None = None
    retired_on: date | None = None
    replacement: str | None = None
    #: listed by the provider but unknown to the catalogue (`preferences.autoDiscover`): ranked after every
    #: catalogued model, and never counted free unless the listing gave its prices
    uncatalogued: bool = False

    def is_retired(self, today: date) -> bool:
        return self.retired_on is not None and today >= self.retired_on

    @property
    def is_free(self) -> bool:
        """Free to call: known to have no price at all (a free tier, or a local model). An unknown price is not free."""
        return self.price_known and self.input_cost_per_1m == 0 and self.output_cost_per_1m == 0

    def quality_for(self, task_type: TaskType) -> int:
        return self.quality.get(task_type, 50)


class QuotaSpec(Frozen):
    """Limits of one account; None means no limit of that kind is known."""

    requests_per_minute: int | None = Field(default=None, ge=0)
    tokens_per_minute: int | None = Field(default=None, ge=0)
    requests_per_day: int | None = Field(default=None, ge=0)
    tokens_per_day: int | None = Field(default=None, ge=0)
    requests_per_month: int | None = Field(default=None, ge=0)
    tokens_per_month: int | None = Field(default=None, ge=0)
    #: IANA zone in which the daily (and monthly) windows reset; Gemini's free tier resets at midnight Pacific
    timezone: str = "UTC"


class BudgetSpec(Frozen):
    daily_usd: float | None = Field(default=None, ge=0)
    monthly_usd: float | None = Field(default=None, ge=0)


class CredentialRef(Frozen):
    """Where an account's key lives: an environment variable or a keychain entry; never the key itself."""

    source: Literal["env", "keyring", "none"]
    name: str = ""


class Account(Frozen):
    """One account (key) of one provider. A provider with a single apiKey is a pool of one."""

    id: str
    provider: str
    kind: WireKind
    base_url: str
    credential: CredentialRef
    quota: QuotaSpec = QuotaSpec()
    budget: BudgetSpec = BudgetSpec()
    enabled: bool = True


class ProviderConfig(Frozen):
    """One configured provider: its wire protocol and endpoint, its pool of accounts and the models it serves."""

    id: str
    kind: WireKind
    label: str
    base_url: str
    enabled: bool = True
    #: the pool; a provider configured with a single apiKey is a pool of one whose account id is the provider id
    accounts: tuple[Account, ...]
    load_balancing: LoadBalancing = "round_robin"
    #: keyed by the model's API id (aliases such as "kimi-2.5" are resolved to "kimi-k2.5")
    models: dict[str, ModelProfile] = Field(default_factory=dict)
    options: WireOptions = WireOptions()
    #: spend caps of the provider as a whole (accounts may carry their own)
    budget: BudgetSpec = BudgetSpec()
    #: the model catalogue id this provider's models are looked up under (see providers.vendors.Vendor.catalog)
    catalog: str
    #: model id -> the catalogue profile of its replacement on this provider, for every configured model with one
    #: (and down each chain), so routing can substitute a retired model on the day it retires
    successors: dict[str, ModelProfile] = Field(default_factory=dict)
    #: the configuration lists no models: the catalogue's current ones serve (so no retirement needs an edit)
    models_from_catalog: bool = False
