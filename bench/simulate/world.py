"""The simulated providers: the seed's line-up with real free-tier limits, on a simulator driven by the day's clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bench.fixtures import SIM_KEY
from providers.simulator import SimAccount, Simulator
from routing.preferences import BudgetMode

#: provider -> (sim flavour, wire kind, model, its context window); prices and quality come from the catalogue
LINEUP: dict[str, tuple[str, str, str, int]] = {
    "zai": ("zai", "openai", "glm-4.7", 204_800),
    "kimi": ("moonshot", "openai", "kimi-k2.6", 262_144),
    "google": ("gemini", "gemini", "gemini-2.5-flash", 1_048_576),
    "openai": ("openai", "openai", "gpt-5.2", 400_000),
    "anthropic": ("anthropic", "anthropic", "claude-sonnet-4-6", 1_000_000),
}
GOOGLE_ACCOUNTS = ("google-1", "google-2", "google-3")
#: Gemini's free tier per project (PROVIDER_FACTS: 5 RPM / 20 RPD since Dec 2025)
GOOGLE_RPM, GOOGLE_RPD = 5, 20
#: every answer is this long (a typical sub-task reply)
OUTPUT_TOKENS = 400


@dataclass
class DayClock:
    """The simulated time: the router reads a datetime, the simulator epoch seconds, the driver moves both."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def epoch(self) -> float:
        return self.now.timestamp()


def account_of(provider: str) -> tuple[str, ...]:
    return GOOGLE_ACCOUNTS if provider == "google" else (provider,)


def sim_accounts() -> list[SimAccount]:
    accounts: list[SimAccount] = []
    for provider, (flavour, kind, model, window) in LINEUP.items():
        limits: dict[str, Any] = {"rpm": GOOGLE_RPM, "quota_requests": GOOGLE_RPD} if provider == "google" else {}
        accounts.extend(
            SimAccount(
                id=account,
                kind=kind,
                flavour=flavour,
                api_key=SIM_KEY,
                models={model: window},
                output_tokens=OUTPUT_TOKENS,
                **limits,
            )
            for account in account_of(provider)
        )
    return accounts


def new_simulator(clock: DayClock) -> Simulator:
    return Simulator(sim_accounts(), clock=clock.epoch)


def router_config(sim: Simulator, budget_mode: BudgetMode) -> dict[str, Any]:
    """The seed's example configuration (preferences included) pointed at the simulator, in `budget_mode`."""
    providers: dict[str, Any] = {}
    for provider, (_flavour, _kind, model, _window) in LINEUP.items():
        accounts = [{"id": a, "apiKey": "${SIM_KEY}", "baseUrl": sim.base_url(a)} for a in account_of(provider)]
        entry: dict[str, Any] = {"accounts": accounts, "models": {model: {}}}
        if provider == "google":
            entry |= {
                "loadBalancing": "round_robin",
                "quota": {"requestsPerMinute": GOOGLE_RPM, "requestsPerDay": GOOGLE_RPD},
            }
        providers[provider] = entry
    return {
        "providers": providers,
        "preferences": {
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
            "budgetMode": budget_mode,
            "autoSwitch": True,
            "switchOnLimit": True,
            "preserveContext": True,
        },
    }
