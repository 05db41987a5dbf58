"""The seed's providers on the simulator, as a providers.json in a temporary home, for end-to-end tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from providers.simulator import SimAccount, Simulator
from server.config.paths import Paths
from server.wiring.app import App, open_app
from tests.clock import FixedClock

SIM_KEY = "sim-test-key-0123456789"
ENV = {"SIM_KEY": SIM_KEY}


def seed_accounts(google_daily: int = 20) -> list[SimAccount]:
    """Z.AI, Kimi, three free Google accounts with a daily quota, OpenAI and Anthropic (the seed's line-up)."""
    google = [
        SimAccount(id=f"google-{n}", kind="gemini", quota_requests=google_daily, api_key=SIM_KEY) for n in (1, 2, 3)
    ]
    return [
        SimAccount(id="zai", kind="openai", flavour="zai", api_key=SIM_KEY),
        SimAccount(id="kimi", kind="openai", flavour="moonshot", api_key=SIM_KEY),
        *google,
        SimAccount(id="openai", kind="openai", api_key=SIM_KEY),
        SimAccount(id="anthropic", kind="anthropic", api_key=SIM_KEY),
    ]


def seed_config(sim: Simulator, *, google_daily: int = 20, **preferences: Any) -> dict[str, Any]:
    """The seed's example configuration pointed at the simulator, with current models."""
    key = "${SIM_KEY}"
    google_accounts = [{"id": f"google-{n}", "apiKey": key, "baseUrl": sim.base_url(f"google-{n}")} for n in (1, 2, 3)]
    prefs: dict[str, Any] = {
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
    prefs.update(preferences)
    return {
        "providers": {
            "zai": {"baseUrl": sim.base_url("zai"), "apiKey": key, "models": {"glm-4.7": {}}},
            "kimi": {"baseUrl": sim.base_url("kimi"), "apiKey": key, "models": {"kimi-k2.6": {}}},
            "google": {
                "accounts": google_accounts,
                "loadBalancing": "round_robin",
                "quota": {"requestsPerDay": google_daily},
                "models": {"gemini-2.5-flash": {}},
            },
            "openai": {"baseUrl": sim.base_url("openai"), "apiKey": key, "models": {"gpt-5.2": {}}},
            "anthropic": {"baseUrl": sim.base_url("anthropic"), "apiKey": key, "models": {"claude-sonnet-4-6": {}}},
        },
        "preferences": prefs,
    }


def write_config(home: Path, config: dict[str, Any]) -> Paths:
    paths = Paths.in_home(home)
    home.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text(json.dumps(config, indent=2))
    return paths


@asynccontextmanager
async def seed_app(
    home: Path,
    *,
    google_daily: int = 20,
    clock: Callable[[], datetime] | None = None,
    **preferences: Any,
) -> AsyncIterator[tuple[App, Simulator]]:
    """The seed's providers on a running simulator, and an App over a fresh home routing to them."""
    clock = clock or FixedClock()
    async with Simulator(seed_accounts(google_daily), clock=lambda: clock().timestamp()) as sim:
        paths = write_config(home, seed_config(sim, google_daily=google_daily, **preferences))
        async with open_app(paths, ENV, clock=clock) as app:
            yield app, sim
