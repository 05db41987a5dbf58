"""Which models each account can really use: provider listings fetched, stored, reused, and merged with the catalogue.

A listing is fetched only by `provider-router models --refresh`, by `doctor` (when older than a day), and by a
long-running server's background pass (at most once a day per account); never on a request's path. The report
(`models_report`) reads only what is stored: per account, each listed model marked `catalogued` (with the
catalogue's facts) or `uncatalogued` (conservative defaults), and each configured model the provider no longer
lists marked `not listed`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Literal

import anyio

from providers.catalog import Catalog
from providers.credentials import UnusableKey
from providers.listing import ListedModel, ListingError, fetch_listing
from providers.models import Account, ModelProfile, ProviderConfig
from providers.types import Endpoint, Frozen, WireKind
from server.wiring.app import App
from server.wiring.discovery import conservative_profile, listed_models
from storage import ModelListings, StoredListing

log = logging.getLogger(__name__)

#: a listing older than this is stale: refreshed by `doctor` and the server's background pass
MAX_AGE = timedelta(days=1)
#: how often a running server looks for stale listings (each account is still fetched at most once a day)
BACKGROUND_EVERY_S = 3600.0
#: a starting server answers its agent before it spends anything on listings
BACKGROUND_FIRST_DELAY_S = 300.0
FETCH_TIMEOUT_S = 30.0

Status = Literal["catalogued", "uncatalogued", "not listed"]


class ModelRow(Frozen):
    """One model of one account, as listed and as the catalogue (or the configuration) describes it."""

    id: str
    status: Status
    configured: bool
    context_window: int
    max_output_tokens: int
    input_cost_per_1m: float | None
    output_cost_per_1m: float | None
    retired_on: str | None = None
    replacement: str | None = None


class AccountModels(Frozen):
    provider: str
    account: str
    kind: WireKind
    fetched_at: datetime | None
    stale: bool
    #: why the last refresh failed (key-free), or why there is no listing yet; None when the listing is current
    error: str | None
    models: list[ModelRow]


class ModelsReport(Frozen):
    accounts: list[AccountModels]
    auto_discover: bool

    @property
    def problems(self) -> int:
        return sum(1 for account in self.accounts if account.error is not None)


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


def _accounts(app: App, only: str | None) -> list[tuple[ProviderConfig, Account]]:
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
    for provider, account in _accounts(app, only):
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


# --------------------------------------------------------------------------------------------------- the report


def _row(profile: ModelProfile, status: Status, configured: bool, shown_id: str) -> ModelRow:
    return ModelRow(
        id=shown_id,
        status=status,
        configured=configured,
        context_window=profile.context_window,
        max_output_tokens=profile.max_output_tokens,
        input_cost_per_1m=profile.input_cost_per_1m,
        output_cost_per_1m=profile.output_cost_per_1m,
        retired_on=profile.retired_on.isoformat() if profile.retired_on else None,
        replacement=profile.replacement,
    )


def _listed_row(catalog: Catalog, provider: ProviderConfig, model: ListedModel) -> tuple[str, ModelRow]:
    """(the canonical id, the row) of one listed model."""
    known = catalog.get(provider.catalog, model.id)
    configured = provider.models.get(known.id if known is not None else model.id)
    if known is not None:
        return known.id, _row(configured or known, "catalogued", configured is not None, model.id)
    if configured is not None:  # a model the user defined in providers.json
        return model.id, _row(configured, "uncatalogued", True, model.id)
    row = _row(conservative_profile(provider.catalog, model, catalog), "uncatalogued", False, model.id)
    # a price the listing did not give is unknown, not free
    prices = {"input_cost_per_1m": model.input_cost_per_1m, "output_cost_per_1m": model.output_cost_per_1m}
    return model.id, row.model_copy(update=prices)


def _account_models(
    catalog: Catalog, provider: ProviderConfig, account: Account, listing: StoredListing | None, now: datetime
) -> AccountModels:
    error = listing.error if listing is not None else "never listed; run `provider-router models --refresh`"
    rows: list[ModelRow] = []
    if listing is not None and listing.fetched_at is not None:
        seen: set[str] = set()
        for model in listed_models(listing):
            canonical, row = _listed_row(catalog, provider, model)
            seen.add(canonical)
            rows.append(row)
        rows.extend(
            _row(profile, "not listed", True, name) for name, profile in provider.models.items() if name not in seen
        )
    rows.sort(key=lambda row: (("catalogued", "uncatalogued", "not listed").index(row.status), row.id))
    fetched_at = listing.fetched_at if listing is not None else None
    return AccountModels(
        provider=provider.id,
        account=account.id,
        kind=provider.kind,
        fetched_at=fetched_at,
        stale=fetched_at is None or now - fetched_at >= MAX_AGE,
        error=error,
        models=rows,
    )


async def models_report(app: App, only: str | None = None) -> ModelsReport:
    """What every enabled account's stored listing says, merged with the catalogue and the configuration.

    Raises:
        ValueError: `only` names no configured provider (the message lists the configured ones).
        OverlayError: the user's catalog.json is malformed.
    """
    if only is not None and only not in app.config.providers:
        known = ", ".join(app.config.providers) or "none"
        raise ValueError(f"no provider {only!r} is configured (configured: {known})")
    catalog = app.catalog()
    stored = {(listing.provider, listing.account): listing for listing in await ModelListings(app.store).all()}
    now = app.clock()
    accounts = [
        _account_models(catalog, provider, account, stored.get((provider.id, account.id)), now)
        for provider, account in _accounts(app, only)
    ]
    return ModelsReport(accounts=accounts, auto_discover=app.config.preferences.auto_discover)


__all__ = [
    "AccountModels",
    "ModelRow",
    "ModelsReport",
    "background_refresher",
    "models_report",
    "refresh_listings",
    "refresh_stale_listings",
]
