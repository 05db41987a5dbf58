"""End-to-end routing over the simulator: the test world (tests/harness.py) with a Retry-After wait that moves the
clock instead of sleeping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from providers.types import Message
from routing.router import RouteRequest
from tests.harness import World, seed_lineup, world

#: the world `routed()` yields
Routed = World


def ask(text: str, **fields: Any) -> RouteRequest:
    """A one-message request."""
    return RouteRequest(messages=(Message(role="user", content=text),), **fields)


@asynccontextmanager
async def routed(
    home: Path, *, settings: dict[str, Any] | None = None, google_daily: int = 20, **preferences: Any
) -> AsyncIterator[World]:
    """The seed's providers on a running simulator and an App routing to them, with `settings` in providers.json."""
    async with world(
        home, lineup=seed_lineup(google_daily), settings=settings, moves_clock_on_wait=True, **preferences
    ) as built:
        yield built
