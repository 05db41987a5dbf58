"""Accounts of each wire whose listings differ from their configuration, on the simulator, for the models tests.

Per provider: a catalogued model both listed and configured, a listed model the catalogue lacks (uncatalogued),
and a configured model the provider does not list (not listed). Anthropic and Gemini list one model per page.
"""

from __future__ import annotations

from typing import Any

from providers.simulator import SimAccount, Simulator
from providers.types import WireKind
from tests.harness import SIM_KEY

#: provider id -> (simulated account, catalogued and listed, uncatalogued and listed, configured but not listed)
LINEUP: dict[str, tuple[str, str, str, str]] = {
    "openai": ("oa", "gpt-5.2", "oa-experimental", "gpt-5.4"),
    "anthropic": ("an", "claude-sonnet-4-6", "claude-lab-preview", "claude-opus-4-6"),
    "google": ("gm", "gemini-3.5-flash", "gemini-lab-exp", "gemini-3.8-flash"),
}
UNCATALOGUED_WINDOW = 32768


def listing_accounts() -> list[SimAccount]:
    kinds: dict[str, WireKind] = {"openai": "openai", "anthropic": "anthropic", "google": "gemini"}
    accounts = [
        SimAccount(
            id=sim_id,
            kind=kinds[provider],
            api_key=SIM_KEY,
            models={listed: 1_000_000, extra: UNCATALOGUED_WINDOW},
            listing_page_size=None if provider == "openai" else 1,
        )
        for provider, (sim_id, listed, extra, _) in LINEUP.items()
    ]
    accounts.append(
        SimAccount(id="or", kind="openai", flavour="openrouter", api_key=SIM_KEY, models={"vendor/model-a": 65536})
    )
    return accounts


def listing_config(sim: Simulator, **preferences: Any) -> dict[str, Any]:
    providers: dict[str, Any] = {
        provider: {"baseUrl": sim.base_url(sim_id), "apiKey": "${SIM_KEY}", "models": {listed: {}, gone: {}}}
        for provider, (sim_id, listed, _, gone) in LINEUP.items()
    }
    providers["openrouter"] = {
        "baseUrl": sim.base_url("or"),
        "apiKey": "${SIM_KEY}",
        "models": {"vendor/model-a": {"contextWindow": 65536}},
    }
    return {"providers": providers, "preferences": {"default": "openai", **preferences}}
