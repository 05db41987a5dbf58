"""The one test world: a fixed clock, the seed's line-up (providers/simulator/lineup.py) on a simulator running on
that clock, its providers.json in a temporary home, and an App routing to it, built together by `world()`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from providers.simulator import SimAccount, Simulator
from providers.simulator.lineup import Lineup
from server.config.paths import Paths
from server.wiring.app import App, open_app
from storage import AccountState, Health
from tests.clock import FixedClock

SIM_KEY = "sim-test-key-0123456789"
ENV = {"SIM_KEY": SIM_KEY}


def seed_lineup(google_daily: int = 20, models: Mapping[str, str] | None = None) -> Lineup:
    """The seed's line-up with the tests' key, `google_daily` requests a day per Google account, and `models`
    (provider id -> model) in place of the line-up's own."""
    return Lineup(api_key=SIM_KEY, key_variable="SIM_KEY", google_daily=google_daily, models=dict(models or {}))


def seed_accounts(google_daily: int = 20) -> list[SimAccount]:
    """Z.AI, Kimi, three free Google accounts with a daily quota, OpenAI and Anthropic (the seed's line-up)."""
    return seed_lineup(google_daily).accounts()


def seed_config(
    sim: Simulator, *, google_daily: int = 20, models: Mapping[str, str] | None = None, **preferences: Any
) -> dict[str, Any]:
    """The seed's example configuration pointed at the simulator, with current models."""
    return seed_lineup(google_daily, models).config(sim, **preferences)


def write_config(home: Path, config: dict[str, Any]) -> Paths:
    paths = Paths.in_home(home)
    home.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text(json.dumps(config, indent=2))
    return paths


@dataclass
class World:
    """An App routing to the simulated line-up, the simulator, and the clock both run on."""

    app: App
    sim: Simulator
    clock: FixedClock
    paths: Paths
    #: every Retry-After the router waited out, in seconds (when the world moves the clock instead of sleeping)
    waits: list[float] = field(default_factory=list[float])

    async def wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(seconds=seconds)

    async def account(self, account_id: str) -> AccountState:
        """The account's state in the store right now."""
        accounts = [a for p in self.app.config.providers.values() for a in p.accounts]
        snapshot = await self.app.ledger.snapshot(accounts, self.clock())
        return snapshot.accounts[account_id]

    async def health(self, account_id: str, model: str | None = None) -> Health:
        state = await self.account(account_id)
        return state.model(model).health if model else state.health

    async def pending(self) -> int:
        """Reservations still held (neither settled nor released)."""
        rows = await self.app.store.fetchall("SELECT COUNT(*) FROM reservations WHERE state = 'pending'")
        return int(next(iter(rows))[0])

    def requests(self, *accounts: str) -> int:
        return sum(self.sim.stats(account).requests for account in accounts)


@asynccontextmanager
async def simulated_home(
    home: Path,
    clock: FixedClock,
    *,
    lineup: Lineup | None = None,
    settings: Mapping[str, Any] | None = None,
    **preferences: Any,
) -> AsyncIterator[tuple[Simulator, Paths]]:
    """The line-up (default: the seed's) on a simulator running on `clock`, and its providers.json (the seed's
    preferences updated by `preferences`, plus `settings`) in `home`: every test world but the App."""
    lineup = lineup or seed_lineup()
    async with Simulator(lineup.accounts(), clock=clock.epoch, pace=clock.pace) as sim:
        yield sim, write_config(home, lineup.config(sim, settings=settings, **preferences))


@asynccontextmanager
async def world(
    home: Path,
    *,
    clock: FixedClock | None = None,
    lineup: Lineup | None = None,
    settings: Mapping[str, Any] | None = None,
    moves_clock_on_wait: bool = False,
    **preferences: Any,
) -> AsyncIterator[World]:
    """The line-up (default: the seed's) on a simulator running on `clock` (default: a FixedClock), its providers.json
    (the seed's preferences updated by `preferences`, plus `settings`) in `home`, and an App over that home on the
    same clock. `moves_clock_on_wait`: a Retry-After the router waits out moves the clock instead of sleeping."""
    clock = clock or FixedClock()
    async with (
        simulated_home(home, clock, lineup=lineup, settings=settings, **preferences) as (sim, paths),
        open_app(paths, ENV, clock=clock) as app,
    ):
        built = World(app, sim, clock, paths)
        if moves_clock_on_wait:
            app.router.wait = built.wait
        yield built


@asynccontextmanager
async def seed_app(
    home: Path,
    *,
    google_daily: int = 20,
    clock: FixedClock | None = None,
    models: Mapping[str, str] | None = None,
    **preferences: Any,
) -> AsyncIterator[tuple[App, Simulator]]:
    """`world()` as (App, Simulator)."""
    async with world(home, clock=clock, lineup=seed_lineup(google_daily, models), **preferences) as built:
        yield built.app, built.sim
