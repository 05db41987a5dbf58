"""`models_report` (`provider-router models`): which models each account can use, from the stored listings merged
with the catalogue and the configuration."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from providers.catalog import Catalog
from providers.listing import ListedModel
from providers.models import Account, ModelProfile, ProviderConfig
from providers.types import Frozen, WireKind
from server.wiring import LISTING_MAX_AGE, App, conservative_profile, listed_models, listing_accounts
from storage import ModelListings, StoredListing

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
        stale=fetched_at is None or now - fetched_at >= LISTING_MAX_AGE,
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
        for provider, account in listing_accounts(app, only)
    ]
    return ModelsReport(accounts=accounts, auto_discover=app.config.preferences.auto_discover)
