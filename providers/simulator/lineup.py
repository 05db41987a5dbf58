"""The seed's line-up on the simulator (Z.AI, Kimi, a pool of three free Google accounts, OpenAI, Anthropic): the
simulator's accounts and the providers.json routing to them, shared by `provider-router demo`, the bench's simulated
day and the tests. Its models have no retirement date in the catalogue, so no date can retire them
(tests/test_time_proofing.py checks)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from providers.catalog import load_catalog
from providers.simulator.core import Simulator
from providers.simulator.spec import Flavour, SimAccount
from providers.types import WireKind


@dataclass(frozen=True)
class Seat:
    """One provider of the line-up: its simulator flavour and wire, its catalogue section, its model, its accounts."""

    provider: str
    flavour: Flavour
    kind: WireKind
    catalog: str
    model: str
    accounts: tuple[str, ...]


GOOGLE_ACCOUNTS = ("google-1", "google-2", "google-3")
LINEUP: tuple[Seat, ...] = (
    Seat("zai", "zai", "openai", "zai", "glm-4.7", ("zai",)),
    Seat("kimi", "moonshot", "openai", "moonshot", "kimi-k3.1-pro", ("kimi",)),
    Seat("google", "gemini", "gemini", "google", "gemini-3.5-flash-lite", GOOGLE_ACCOUNTS),
    Seat("openai", "openai", "openai", "openai", "gpt-5.2", ("openai",)),
    Seat("anthropic", "anthropic", "anthropic", "anthropic", "claude-sonnet-4-6", ("anthropic",)),
)
#: the seed's example preferences
PREFERENCES: dict[str, Any] = {
    "default": "zai",
    "taskPreferences": {
        "coding": ["openai", "anthropic", "zai", "kimi"],
        "reasoning": ["anthropic", "kimi", "openai", "google"],
        "creative": ["openai", "kimi", "zai"],
        "simple": ["google", "zai", "kimi"],
    },
    "qualityPreferences": {
        "max_speed": ["google", "zai", "kimi"],
        "max_quality": ["openai", "anthropic"],
        "max_context": ["google", "kimi", "anthropic"],
        "cost_first": ["kimi", "google", "zai", "anthropic", "openai"],
    },
    "budgetMode": "quality_first",
    "autoSwitch": True,
    "switchOnLimit": True,
    "preserveContext": True,
}


@dataclass(frozen=True)
class Lineup:
    """The line-up with one simulated key and the free Google pool's limits per account."""

    #: the key every simulated account wants
    api_key: str
    #: the environment variable providers.json reads that key from
    key_variable: str
    #: requests a day per Google account (the simulator's quota and providers.json's `requestsPerDay`)
    google_daily: int = 20
    #: requests a minute per Google account (None: no per-minute limit on either side)
    google_rpm: int | None = None
    #: provider id -> the model it serves instead of the line-up's (e.g. one scheduled to retire, to test retirement)
    models: Mapping[str, str] = field(default_factory=dict)

    def model(self, seat: Seat) -> str:
        return self.models.get(seat.provider, seat.model)

    def _window(self, seat: Seat) -> int:
        profile = load_catalog().get(seat.catalog, self.model(seat))
        if profile is None:
            raise ValueError(f"{seat.catalog}/{self.model(seat)} is not in the catalogue: name a model it lists")
        return profile.context_window

    def accounts(self, *, declare_models: bool = False, **fields: Any) -> list[SimAccount]:
        """The simulator's accounts; `fields` (latency, reply, output_tokens…) go to every account;
        `declare_models` makes each account serve only its model, within the catalogue's context window."""
        accounts: list[SimAccount] = []
        for seat in LINEUP:
            limits: dict[str, Any] = {}
            if seat.provider == "google":
                limits = {"quota_requests": self.google_daily, "rpm": self.google_rpm}
            if declare_models:
                limits["models"] = {self.model(seat): self._window(seat)}
            accounts.extend(
                SimAccount(id=account, kind=seat.kind, flavour=seat.flavour, api_key=self.api_key, **limits, **fields)
                for account in seat.accounts
            )
        return accounts

    def config(
        self, sim: Simulator, *, settings: Mapping[str, Any] | None = None, **preferences: Any
    ) -> dict[str, Any]:
        """providers.json routing to `sim`'s accounts: the seed's preferences updated by `preferences`."""
        key = "${" + self.key_variable + "}"
        providers: dict[str, Any] = {}
        for seat in LINEUP:
            models: dict[str, Any] = {self.model(seat): {}}
            if seat.provider != "google":
                providers[seat.provider] = {"baseUrl": sim.base_url(seat.provider), "apiKey": key, "models": models}
                continue
            quota: dict[str, int] = {"requestsPerDay": self.google_daily}
            if self.google_rpm is not None:
                quota = {"requestsPerMinute": self.google_rpm, **quota}
            providers["google"] = {
                "accounts": [{"id": a, "apiKey": key, "baseUrl": sim.base_url(a)} for a in seat.accounts],
                "loadBalancing": "round_robin",
                "quota": quota,
                "models": models,
            }
        config: dict[str, Any] = {"providers": providers, "preferences": {**PREFERENCES, **preferences}}
        if settings:
            config["settings"] = dict(settings)
        return config
