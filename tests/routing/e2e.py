"""End-to-end routing over the simulator: the seed's providers, a clock tests move, and a Retry-After wait that
moves that clock instead of sleeping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from providers.simulator import Simulator
from providers.types import Message
from routing.router import RouteRequest
from server.wiring.app import App, open_app
from storage import AccountState, Health
from tests.clock import FixedClock
from tests.harness import ENV, seed_accounts, seed_config, write_config


def ask(text: str, **fields: Any) -> RouteRequest:
    """A one-message request."""
    return RouteRequest(messages=(Message(role="user", content=text),), **fields)


@dataclass
class Routed:
    app: App
    sim: Simulator
    clock: FixedClock
    #: every Retry-After the router waited out, in seconds
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
async def routed(
    home: Path, *, settings: dict[str, Any] | None = None, google_daily: int = 20, **preferences: Any
) -> AsyncIterator[Routed]:
    """The seed's providers on a running simulator and an App routing to them, with `settings` in providers.json."""
    clock = FixedClock()
    async with Simulator(seed_accounts(google_daily), clock=clock.epoch) as sim:
        config = seed_config(sim, google_daily=google_daily, **preferences)
        if settings:
            config["settings"] = settings
        async with open_app(write_config(home, config), ENV, clock=clock) as app:
            world = Routed(app, sim, clock)
            app.router.wait = world.wait
            yield world
