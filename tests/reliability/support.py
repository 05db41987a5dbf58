"""Shared pieces of the reliability tests: the fault-matrix line-up on the simulator and an MCP session over it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.types import CallToolResult

from providers.simulator import SimAccount, Simulator
from providers.simulator.lineup import LINEUP
from server.config.paths import Paths
from server.wiring.app import App
from server.wiring.logging_setup import Redactor
from tests.clock import FixedClock
from tests.harness import ENV, SIM_KEY, write_config
from tests.server.mcp_support import read_json, served, text_of

_MATRIX_ORDER = ("openai", "zai", "kimi", "anthropic", "google")
#: provider id -> (simulator flavour, model): the line-up's providers (providers/simulator/lineup.py), one account
#: each, every wire and every error dialect; the models have no retirement date (servers started by tests run on the
#: machine's clock: tests/test_time_proofing.py checks)
KINDS: dict[str, tuple[str, str]] = {
    seat.provider: (seat.flavour, seat.model) for seat in sorted(LINEUP, key=lambda s: _MATRIX_ORDER.index(s.provider))
}
_WIRE = {"openai": "openai", "zai": "openai", "moonshot": "openai", "anthropic": "anthropic", "gemini": "gemini"}
#: the healthy provider every failover lands on: first in every order after a pin, its window larger than all
BACKUP = "backup"
BACKUP_MODEL = "gpt-5.2"
BACKUP_WINDOW = 4_000_000


def matrix_accounts(**changes: Any) -> list[SimAccount]:
    """The five provider kinds and the backup, each an account of its own on one simulator."""
    accounts = [
        SimAccount(id=pid, kind=_WIRE[flavour], flavour=flavour, api_key=SIM_KEY, **changes)
        for pid, (flavour, _model) in KINDS.items()
    ]
    return [*accounts, SimAccount(id=BACKUP, kind="openai", api_key=SIM_KEY, **changes)]


def matrix_config(sim: Simulator, *, settings: dict[str, Any] | None = None, **preferences: Any) -> dict[str, Any]:
    """providers.json for `matrix_accounts`: the backup leads every order, so a pinned call fails over to it."""
    key = "${SIM_KEY}"
    providers: dict[str, Any] = {
        pid: {"baseUrl": sim.base_url(pid), "apiKey": key, "models": {model: {}}} for pid, (_f, model) in KINDS.items()
    }
    providers[BACKUP] = {
        "kind": "openai",
        "baseUrl": sim.base_url(BACKUP),
        "apiKey": key,
        "models": {BACKUP_MODEL: {"contextWindow": BACKUP_WINDOW, "maxTokens": 8192}},
    }
    order = [BACKUP, *KINDS]
    prefs: dict[str, Any] = {
        "default": BACKUP,
        "taskPreferences": dict.fromkeys(("coding", "reasoning", "creative", "simple"), order),
        "budgetMode": "quality_first",
        "autoSwitch": True,
        "switchOnLimit": True,
        **preferences,
    }
    config: dict[str, Any] = {"providers": providers, "preferences": prefs}
    if settings:
        config["settings"] = settings
    return config


@dataclass
class Live:
    """An in-memory MCP client on a server whose App routes to a shared simulator."""

    client: Client
    sim: Simulator
    paths: Paths
    redactor: Redactor
    clock: FixedClock
    apps: list[App]

    @property
    def app(self) -> App:
        return self.apps[-1]

    async def call(self, tool: str, **arguments: Any) -> CallToolResult:
        return await self.client.call_tool(tool, arguments)

    async def read(self, uri: str) -> Any:
        return await read_json(self.client, uri)

    async def pending(self) -> int:
        rows = await self.app.store.fetchall("SELECT COUNT(*) FROM reservations WHERE state = 'pending'")
        return int(next(iter(rows))[0])


@asynccontextmanager
async def live(
    home: Path,
    sim: Simulator,
    config: dict[str, Any] | str,
    *,
    clock: Callable[[], datetime] | None = None,
    environ: dict[str, str] | None = None,
) -> AsyncIterator[Live]:
    """The MCP server over `home` (config written there) and an in-memory client, on an already running `sim`."""
    if isinstance(config, str):
        home.mkdir(parents=True, exist_ok=True)
        Paths.in_home(home).config_file.write_text(config)
    else:
        write_config(home, config)
    paths = Paths.in_home(home)
    fixed = clock if isinstance(clock, FixedClock) else FixedClock()
    async with served(paths, environ or ENV, clock or fixed) as (client, redactor, apps):
        yield Live(client, sim, paths, redactor, fixed, apps)


__all__ = ["BACKUP", "KINDS", "Live", "live", "matrix_accounts", "matrix_config", "text_of"]
