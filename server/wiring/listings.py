"""Which models each account can really use: provider listings fetched, stored, reused, and merged with the catalogue.

A listing is fetched only by `provider-router models --refresh`, by `doctor` (when older than a day), and by a
long-running server's background pass (at most once a day per account); never on a request's path. The report
(`models_report`) reads only what is stored: per account, each listed model marked `catalogued` (with the
catalogue's facts) or `uncatalogued` (conservative defaults), and each configured model the provider no longer
lists marked `not listed` (server.views.models).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import anyio

from providers.errors import UnusableKey
from providers.listing import ListedModel, ListingError, fetch_listing
from providers.models import Account, ProviderConfig
from providers.types import Endpoint
from server.wiring.app import App
from storage import ModelListings, StoredListing

log = logging.getLogger(__name__)

#: a listing older than this is stale: refreshed by `doctor` and the server's background pass
MAX_AGE = timedelta(days=1)
#: how often a running server looks for stale listings (each account is still fetched at most once a day)
BACKGROUND_EVERY_S = 3600.0
#: a starting server answers its agent before it spends anything on listings
BACKGROUND_FIRST_DELAY_S = 300.0
FETCH_TIMEOUT_S = 30.0

# --------------------------------------------------------------------------------------------------- refreshing


async def _fetch(app: App, provider: ProviderConfig, account: Account) -> tuple[ListedModel, ...]:
    try:
        key = await app.credentials.get(account)
    except UnusableKey as unusable:
        raise ListingError(unusable.message, error_class="auth_failed") from unusable
    if key is None and account.credential.source != "none":
        location = await app.credentials.locate(account)
        raise ListingError(f"no key found ({location.detail})", error_class="auth_failed")
    endpoint = Endpoint(provider=provider.id, account=account.id, base_url=account.base_url, api_key=key)
    try:
        with anyio.fail_after(FETCH_TIMEOUT_S):
            return await fetch_listing(provider.kind, app.http, endpoint, app.clock)
    except TimeoutError as error:
        raise ListingError(f"no answer within {FETCH_TIMEOUT_S:.0f} s", error_class="transport") from error


def _is_stale(listing: StoredListing | None, now: datetime) -> bool:
    return listing is None or now - listing.checked_at >= MAX_AGE


def listing_accounts(app: App, only: str | None) -> list[tuple[ProviderConfig, Account]]:
    return [
        (provider, account)
        for provider in app.config.providers.values()
        if provider.enabled and (only is None or provider.id == only)
        for account in provider.accounts
        if account.enabled
    ]


async def refresh_listings(app: App, *, only: str | None = None, force: bool = False) -> int:
    """Fetch the listing of every enabled account (of `only`'s provider) that is stale, or all with `force`.

    Failures are stored per account (the last good models stay) and never raised. Returns how many were fetched.
    """
    store = ModelListings(app.store)
    fetched = 0
    for provider, account in listing_accounts(app, only):
        now = app.clock()
        if not force and not _is_stale(await store.get(provider.id, account.id), now):
            continue
        try:
            models = await _fetch(app, provider, account)
        except ListingError as error:
            await store.failed(provider.id, account.id, f"{error.error_class}: {error.message}", app.clock())
            continue
        await store.save(provider.id, account.id, [m.model_dump(mode="json") for m in models], app.clock())
        fetched += 1
    app.use_listings(tuple(await store.all()))
    return fetched


async def refresh_stale_listings(app: App) -> None:
    """Refresh the listings older than a day (what `doctor` and the background pass run)."""
    await refresh_listings(app)


async def background_refresher(app: App, *, first_delay_s: float = BACKGROUND_FIRST_DELAY_S) -> None:
    """Refresh stale listings now and then for as long as the server runs; quiet, and cancelled with the server."""
    await anyio.sleep(first_delay_s)
    while True:
        try:
            await refresh_stale_listings(app)
        except Exception:  # a store or config hiccup must never take the server down; the next pass retries
            log.debug("background listing refresh failed", exc_info=True)
        await anyio.sleep(BACKGROUND_EVERY_S)


__all__ = ["MAX_AGE", "background_refresher", "listing_accounts", "refresh_listings", "refresh_stale_listings"]
