"""Stored listings in the running product: never fetched on a request's path, refreshed when a day old, and with
`autoDiscover` their uncatalogued models routed to only after the catalogued ones."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from mcp import Client

from providers.simulator import Simulator
from providers.types import Message
from routing.router import RouteRequest
from server.cli.doctor import diagnose
from server.config.paths import Paths
from server.mcp.server import build_server
from server.wiring.app import App, open_app
from server.wiring.listings import background_refresher, refresh_listings, refresh_stale_listings
from server.wiring.logging_setup import Redactor
from storage import ModelListings, Store
from tests.clock import FixedClock, fixed_epoch
from tests.harness import ENV, seed_accounts, write_config
from tests.server.mcp_support import app_factory, mcp_session
from tests.server.models_support import LINEUP, listing_accounts, listing_config

pytestmark = pytest.mark.anyio
SEED_ACCOUNTS = [account.id for account in seed_accounts()]


def _listing_calls(sim: Simulator, accounts: list[str]) -> list[str]:
    return [f"{r.method} {r.path}" for a in accounts for r in sim.requests(a) if r.path.endswith("/models")]


@asynccontextmanager
async def listing_app(home: Path, clock: FixedClock, **preferences: Any) -> AsyncIterator[tuple[App, Simulator]]:
    async with Simulator(listing_accounts(), clock=fixed_epoch) as sim:
        paths = write_config(home, listing_config(sim, **preferences))
        async with open_app(paths, ENV, clock=clock) as app:
            yield app, sim


def _coding() -> RouteRequest:
    return RouteRequest(messages=(Message(role="user", content="Write a function that adds two numbers"),))


# --------------------------------------------------------------------------------------------------- request path


async def test_route_and_complete_never_calls_a_listing_endpoint_even_with_stale_listings(tmp_path: Path) -> None:
    home, clock = tmp_path / "home", FixedClock()
    home.mkdir()
    async with await Store.open(Paths.in_home(home).db_file) as store:
        await ModelListings(store).save("openai", "openai", [{"id": "gpt-5.2"}], clock.now - timedelta(days=3))
    async with mcp_session(home, clock=clock, autoDiscover=True) as s:
        for _ in range(3):
            await s.ok("route_and_complete", prompt="Summarize: the sky is blue.", task_type="simple")
        await s.ok("route_and_complete", prompt="Fix this function", task_type="coding", dry_run=True)
        await s.ok("provider_status")
        served = sum(s.sim.stats(account).succeeded for account in SEED_ACCOUNTS)
        calls = _listing_calls(s.sim, SEED_ACCOUNTS)
    assert served == 3
    assert calls == []


# --------------------------------------------------------------------------------------------------- staleness


async def test_a_listing_is_refreshed_only_once_it_is_a_day_old(tmp_path: Path) -> None:
    clock = FixedClock()
    sims = [sim_id for sim_id, *_ in LINEUP.values()] + ["or"]
    async with listing_app(tmp_path / "home", clock) as (app, sim):
        await refresh_stale_listings(app)
        first = len(_listing_calls(sim, sims))
        clock.advance(hours=23)
        await refresh_stale_listings(app)
        unchanged = len(_listing_calls(sim, sims))
        clock.advance(hours=1)
        await refresh_stale_listings(app)
        again = len(_listing_calls(sim, sims))
        stored = await ModelListings(app.store).all()
    assert first == 6 and unchanged == first and again == 2 * first
    assert {listing.fetched_at for listing in stored} == {clock.now}


async def test_the_background_pass_refreshes_stale_listings_and_stops_when_cancelled(tmp_path: Path) -> None:
    clock = FixedClock()
    async with listing_app(tmp_path / "home", clock) as (app, _sim):
        listings = ModelListings(app.store)
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(lambda: background_refresher(app, first_delay_s=0))
                while len(await listings.all()) < 4:
                    await anyio.lowlevel.checkpoint()
                tasks.cancel_scope.cancel()
        stored = await listings.all()
    assert {(listing.provider, listing.fetched_at) for listing in stored} == {
        (provider, clock.now) for provider in ("anthropic", "google", "openai", "openrouter")
    }


async def test_a_server_with_background_refresh_starts_and_stops_cleanly_without_fetching_at_once(
    tmp_path: Path,
) -> None:
    clock = FixedClock()
    async with Simulator(listing_accounts(), clock=fixed_epoch) as sim:
        paths = write_config(tmp_path / "home", listing_config(sim))
        factory = app_factory(paths, dict(ENV), Redactor(), [], clock)
        server = build_server(factory, refresh_listings=True)
        with anyio.fail_after(10):
            async with Client(server) as client:
                result = await client.call_tool("provider_status", {})
        calls = _listing_calls(sim, ["oa", "an", "gm", "or"])
    assert not result.is_error
    assert calls == []


async def test_doctor_refreshes_stale_listings(tmp_path: Path) -> None:
    async with Simulator(listing_accounts(), clock=fixed_epoch) as sim:
        paths = write_config(tmp_path / "home", listing_config(sim))
        await diagnose(paths, ENV, offline=False, clock=FixedClock())
        async with await Store.open(paths.db_file) as store:
            stored = await ModelListings(store).all()
    assert {listing.provider for listing in stored if listing.fetched_at} == {
        "anthropic",
        "google",
        "openai",
        "openrouter",
    }


# --------------------------------------------------------------------------------------------------- autoDiscover


async def test_with_auto_discover_uncatalogued_models_become_candidates_after_every_catalogued_one(
    tmp_path: Path,
) -> None:
    async with listing_app(tmp_path / "home", FixedClock(), autoDiscover=True) as (app, _sim):
        before = await app.router.preview(_coding())
        await refresh_listings(app, force=True)
        after = await app.router.preview(_coding())
    uncatalogued = {extra for _, _, extra, _ in LINEUP.values()}
    assert not {c["model"] for c in before.candidates} & uncatalogued
    models = [c["model"] for c in after.candidates]
    assert set(models) >= uncatalogued
    first_uncatalogued = min(models.index(name) for name in uncatalogued)
    assert all(name in uncatalogued for name in models[first_uncatalogued:])


async def test_without_auto_discover_listed_models_are_shown_but_never_routed_to(tmp_path: Path) -> None:
    async with listing_app(tmp_path / "home", FixedClock()) as (app, _sim):
        await refresh_listings(app, force=True)
        preview = await app.router.preview(_coding())
        setup = app.router.setup
    uncatalogued = {extra for _, _, extra, _ in LINEUP.values()}
    assert not {c["model"] for c in preview.candidates} & uncatalogued
    assert all(not set(p.models) & uncatalogued for p in setup.providers.values())


async def test_an_uncatalogued_model_without_a_listed_price_never_counts_as_free(tmp_path: Path) -> None:
    async with listing_app(tmp_path / "home", FixedClock(), autoDiscover=True) as (app, _sim):
        await refresh_listings(app, force=True)
        preview = await app.router.preview(
            RouteRequest(messages=(Message(role="user", content="hello"),), budget_mode="free_only")
        )
        discovered = app.router.setup.providers["anthropic"].models["claude-lab-preview"]
    assert discovered.uncatalogued and discovered.quality == {} and discovered.capabilities == frozenset()
    assert discovered.context_window == 32768
    assert "claude-lab-preview" not in {c["model"] for c in preview.candidates}
